from django.urls import path

from .. import converters  # noqa: F401  (registers <id:...>)
from . import views

urlpatterns = [
    path("metadata", views.CapabilityStatementView.as_view(), name="fhir-metadata"),
    path("Patient", views.PatientCreateView.as_view(), name="fhir-patient"),
    path("Coverage", views.CoverageCreateView.as_view(), name="fhir-coverage"),
    path("ServiceRequest", views.ServiceRequestListCreateView.as_view(), name="fhir-servicerequest"),
    path("ServiceRequest/<id:pk>", views.ServiceRequestReadView.as_view(), name="fhir-servicerequest-read"),
    path("Slot", views.SlotSearchView.as_view(), name="fhir-slot"),
    path("Appointment", views.AppointmentListCreateView.as_view(), name="fhir-appointment"),
    path("Task", views.TaskSearchView.as_view(), name="fhir-task"),
]
