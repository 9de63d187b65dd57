from django.urls import path

from . import views

app_name = "staffing"
urlpatterns = [
    path("", views.staff_list, name="staff"),
    path("roster/", views.roster, name="roster"),
    path("coverage/", views.coverage, name="coverage"),
    path("coverage/cell/", views.coverage_cell, name="coverage-cell"),
    path("overtime/", views.overtime, name="overtime"),
    path("credentials/", views.credentials, name="credentials"),
    path("import/", views.roster_import, name="import"),
]
