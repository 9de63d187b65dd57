"""OpenAPI description of the bearer-token authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "partners.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A partner token from `manage.py create_partner_token ORG --scopes ...` or the admin."}


class DashboardKpisSchema(OpenApiViewExtension):
    """Describes dashboards' GET /api/v1/kpis (a plain APIView) without touching that app."""

    target_class = "dashboards.api.KpisView"

    def view_replacement(self):
        class Described(self.target_class):
            @extend_schema(summary="Operational KPIs (managers and leads; session users)", tags=["JSON API"],
                           parameters=[OpenApiParameter(name, str) for name in
                                       ("from", "to", "site", "department", "service_type", "payer")],
                           responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
            def get(self, request, *args, **kwargs):
                return super().get(request, *args, **kwargs)

        return Described
