"""Kernel pages: home and the health check."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from .health import health


def home(request):
    return redirect("queues:index")


@never_cache
def healthz(request):
    body, status = health()
    return JsonResponse(body, status=status)
