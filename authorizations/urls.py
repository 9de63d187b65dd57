from django.urls import path

from . import views

app_name = "authorizations"
urlpatterns = [
    path("", views.authorization_list, name="list"),
]
