"""Send anonymous visitors to the login page; only the login page, health check and static assets are public."""

import time

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

PUBLIC_PREFIXES = ("/accounts/login/", "/healthz", "/static/", "/favicon.ico")
API_PREFIXES = ("/api/", "/fhir/", "/integrations/")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if path.startswith(API_PREFIXES):
            # APIs authenticate themselves (tokens, sessions); they answer 401 rather than redirecting.
            return self.get_response(request)
        if path.startswith("/admin/"):
            return self.get_response(request)  # the admin has its own login redirect
        if request.headers.get("HX-Request"):
            response = JsonResponse({"detail": "Your session has ended. Please log in again."}, status=401)
            response["HX-Redirect"] = settings.LOGIN_URL
            return response
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>` on every response: the time Django spent on the request (middleware included,
    queueing in front of the worker excluded), as browsers' dev tools and `make bench` read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
