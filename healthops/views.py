"""Kernel pages: home, health check, patient page."""

from django.http import JsonResponse
from django.shortcuts import redirect


def home(request):
    return redirect("referrals:list")


def healthz(request):
    return JsonResponse({"status": "ok"})


def patient_detail(request, pk):
    raise NotImplementedError
