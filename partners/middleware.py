"""Audit of the partner APIs: every call to /api/ or /fhir/ is recorded and logged with its client, endpoint, status
and latency. The endpoint is the URL route (`fhir/r4/ServiceRequest/<int:pk>`), so no identifier reaches the log."""

import logging
import time

from django.utils import timezone

log = logging.getLogger("healthops.api")
PREFIXES = ("/api/", "/fhir/")


class ApiAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIXES):
            return self.get_response(request)
        started = time.monotonic()
        response = self.get_response(request)
        latency = int((time.monotonic() - started) * 1000)
        record(request, response.status_code, latency)
        return response


def record(request, status: int, latency: int) -> None:
    from .models import ApiCall, PartnerClient

    match = getattr(request, "resolver_match", None)
    route = match.route if match else "(no route)"
    client = getattr(request, "auth", None)
    client = client if isinstance(client, PartnerClient) else None
    user = getattr(request, "user", None)
    user = user if getattr(user, "is_authenticated", False) and client is None else None
    ApiCall.objects.create(client=client, user=user, method=request.method[:8], route=route[:200], status=status,
                           latency_ms=latency, at=timezone.now())
    log.info("api call", extra={"client": client.prefix if client else None, "user_id": user.pk if user else None,
                                "method": request.method, "route": route, "status": status, "latency_ms": latency})
