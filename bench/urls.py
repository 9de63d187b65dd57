"""The product's URLs plus the floors pages and API calls are compared with: the same middleware, no work."""

from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from healthops.urls import urlpatterns as product
from partners.auth import BearerTokenAuthentication
from partners.fhir.validation import FhirJSONParser, JSONBodyParser
from partners.models import ApiCall


def bare(request):
    return HttpResponse("ok")


class ApiWriteFloor(APIView):
    """The floor of a partner API write: the partner API's bearer-token authentication, the JSON body parsed, one row
    inserted, 201. The row is an ApiCall, a plain table with no triggers, events or flow behind it; it lives under
    /api/ so that, like every partner call, it passes the API's login exemption and its audit middleware."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [FhirJSONParser, JSONBodyParser]
    renderer_classes = [JSONRenderer]

    def post(self, request):
        if not isinstance(request.data, dict):
            return Response({"detail": "a JSON object"}, status=400)
        row = ApiCall.objects.create(client=request.auth, method="POST", route="bench/floor", status=201,
                                     latency_ms=0, at=timezone.now())
        return Response({"id": row.pk}, status=201)


urlpatterns = [path("bench/bare/", bare), path("api/bench/floor", ApiWriteFloor.as_view()), *product]
