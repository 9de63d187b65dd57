from django.urls import path

from . import views

app_name = "dashboards"
urlpatterns = [
    path("", views.index, name="index"),
    path("bottlenecks/", views.bottlenecks, name="bottlenecks"),
    path("definitions/", views.definitions, name="definitions"),
    path("cases/<slug:kpi>/", views.cases, name="cases"),
    path("export/ocel.json", views.export_ocel, name="export-ocel"),
    path("export/<slug:name>.csv", views.export_csv, name="export-csv"),
]
