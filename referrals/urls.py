from django.urls import path

from . import intake, views

app_name = "referrals"
urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", intake.referral_new, name="new"),
    path("<int:pk>/", views.referral_detail, name="detail"),
    path("<int:pk>/book/", views.referral_book, name="book"),
    path("<int:pk>/book/outside/", views.referral_book_outside, name="book-outside"),
    path("<int:pk>/documents/", views.document_upload, name="document-upload"),
    path("<int:pk>/documents/<int:doc_pk>/", views.document_download, name="document-download"),
]
