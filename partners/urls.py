"""Partner API mount points: FHIR R4, native JSON, the OpenAPI schema and its locally served docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("fhir/r4/", include("partners.fhir.urls")),
    path("api/v1/", include("partners.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
