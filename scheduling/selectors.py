"""Reads for scheduling pages, scoped to the user's sites."""

from django.db.models import QuerySet

from healthops.permissions import site_ids_for

from .models import Appointment


def appointments_visible_to(user) -> QuerySet[Appointment]:
    appointments = Appointment.objects.select_related("patient", "service_type", "site")
    site_ids = site_ids_for(user)
    return appointments if site_ids is None else appointments.filter(site_id__in=site_ids)


def appointment_list(*, user, filters: dict) -> QuerySet[Appointment]:
    appointments = appointments_visible_to(user)
    if status := filters.get("status"):
        appointments = appointments.filter(status=status)
    if site := filters.get("site"):
        appointments = appointments.filter(site=site)
    if service_type := filters.get("service_type"):
        appointments = appointments.filter(service_type=service_type)
    if day_from := filters.get("date_from"):
        appointments = appointments.filter(start__date__gte=day_from)
    if day_to := filters.get("date_to"):
        appointments = appointments.filter(start__date__lte=day_to)
    return appointments.prefetch_related("booking__resources__resource").order_by("start", "pk")
