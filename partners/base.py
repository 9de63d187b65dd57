"""The base of every partner API view: authentication, scopes, the rate limit and the one exception handler."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from .auth import BearerTokenAuthentication, HasScope, partner_client
from .errors import exception_handler
from .fhir.validation import JSONBodyParser
from .idempotency import run_idempotent
from .throttling import PartnerRateThrottle


class PartnerAPIView(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PartnerRateThrottle]
    required_scopes: dict[str, str] = {}
    parser_classes = [JSONBodyParser]

    def get_exception_handler(self):
        return exception_handler

    @property
    def client(self):
        return partner_client(self.request)

    def idempotent(self, handler):
        return run_idempotent(self, self.request, handler)
