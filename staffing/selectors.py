"""Reads for staffing pages."""

from django.db.models import Prefetch, Q, QuerySet

from healthops.permissions import site_ids_for

from .models import Credential, StaffMember


def staff_visible_to(user) -> QuerySet[StaffMember]:
    staff = StaffMember.objects.prefetch_related(
        "specialties", "sites", Prefetch("credentials", queryset=Credential.objects.select_related("kind"))
    )
    site_ids = site_ids_for(user)
    return staff if site_ids is None else staff.filter(sites__in=site_ids).distinct()


def staff_list(*, user, filters: dict) -> QuerySet[StaffMember]:
    """The staff list with its filters. `filters` holds cleaned values (see staffing.forms.StaffFilterForm)."""
    staff = staff_visible_to(user)
    if q := (filters.get("q") or "").strip():
        staff = staff.filter(Q(family_name__icontains=q) | Q(given_name__icontains=q) | Q(npi=q))
    if role := filters.get("role"):
        staff = staff.filter(role=role)
    if site := filters.get("site"):
        staff = staff.filter(sites=site)
    if specialty := filters.get("specialty"):
        staff = staff.filter(specialties=specialty)
    return staff.distinct().order_by("family_name", "given_name", "pk")
