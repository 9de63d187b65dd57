from django.urls import path

from . import views

app_name = "staffing"
urlpatterns = [
    path("", views.staff_list, name="staff"),
]
