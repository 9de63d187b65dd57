from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from authorizations.urls import integration_urlpatterns
from referrals import views as referral_views

from . import views

admin.site.site_header = "HealthOps rule console"
admin.site.site_title = "HealthOps admin"
admin.site.index_title = "Rules, reference data and records"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/<int:pk>/", referral_views.patient_detail, name="patient-detail"),
    path("queues/", include("referrals.queue_urls")),
    path("referrals/", include("referrals.urls")),
    path("scheduling/", include("scheduling.urls")),
    path("authorizations/", include("authorizations.urls")),
    path("staffing/", include("staffing.urls")),
    path("integrations/", include(integration_urlpatterns)),
    path("dashboards/", include("dashboards.urls")),
    path("api/v1/kpis", include("dashboards.api_urls")),
    path("admin/", admin.site.urls),
    path("", include("partners.urls")),
]
