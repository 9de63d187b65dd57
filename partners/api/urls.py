from django.urls import path

from .. import converters  # noqa: F401  (registers <id:...>)
from . import views

urlpatterns = [
    path("sites", views.SiteListView.as_view(), name="api-sites"),
    path("service-types", views.ServiceTypeListView.as_view(), name="api-service-types"),
    path("payers", views.PayerListView.as_view(), name="api-payers"),
    path("referrals", views.ReferralListView.as_view(), name="api-referrals"),
    path("referrals/<id:pk>", views.ReferralDetailView.as_view(), name="api-referral"),
    path("appointments", views.AppointmentListView.as_view(), name="api-appointments"),
    path("authorizations", views.AuthorizationListView.as_view(), name="api-authorizations"),
    path("tasks", views.TaskListView.as_view(), name="api-tasks"),
    path("staffing/staff", views.StaffListView.as_view(), name="api-staff"),
    path("webhooks", views.WebhookListCreateView.as_view(), name="api-webhooks"),
    path("webhooks/<id:pk>", views.WebhookDeleteView.as_view(), name="api-webhook"),
    path("webhooks/deliveries", views.DeliveryListView.as_view(), name="api-webhook-deliveries"),
]
