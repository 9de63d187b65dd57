from django.urls import path

from . import views

app_name = "scheduling"
urlpatterns = [
    path("", views.appointment_list, name="appointments"),
    path("board/", views.board, name="board"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment"),
    path("appointments/<int:pk>/reschedule/", views.appointment_reschedule, name="appointment-reschedule"),
    path("appointments/<int:pk>/<slug:action>/", views.appointment_action, name="appointment-action"),
    path("waitlist/", views.waitlist_page, name="waitlist"),
    path("waitlist/add/", views.waitlist_add, name="waitlist-add"),
    path("waitlist/<int:pk>/remove/", views.waitlist_remove, name="waitlist-remove"),
    path("waitlist/offers/<int:pk>/<slug:answer>/", views.offer_answer, name="offer-answer"),
]
