"""What the roster has to cover: booked staff time, read from scheduling's tables.

staffing sits to the left of scheduling (DESIGN.md), so it never imports it. These few reads go through the app
registry, read-only, and live only in this module; scheduling can replace them with its own selectors later
without anything else in staffing changing.
"""

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps


@dataclass(frozen=True)
class BookedDemand:
    """One active booking (a block of staff time) and what kind of staff member it needs."""

    booking_id: int
    site_id: int
    start: datetime
    end: datetime
    role: str
    specialty_id: int | None
    credential_kind_id: int | None
    service_name: str
    staff_resource_ids: tuple[int, ...]

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _model(name: str):
    return apps.get_model("scheduling", name)


def booked_demand(*, site_ids: list[int] | None, start: datetime, end: datetime) -> list[BookedDemand]:
    """Active bookings starting in [start, end) at these sites (None: all), in two queries."""
    bookings = _active_bookings(start, end)
    if site_ids is not None:
        bookings = bookings.filter(site_id__in=site_ids)
    rows = list(bookings.values_list("pk", "site_id", "start", "end", "service_type__staff_role",
                                     "service_type__staff_specialty_id", "service_type__required_credential_id",
                                     "service_type__name"))
    staff: dict[int, list[int]] = {}
    for booking_id, rid in _model("BookedResource").objects.filter(
        booking_id__in=[r[0] for r in rows], active=True, resource__kind="staff"
    ).values_list("booking_id", "resource_id"):
        staff.setdefault(booking_id, []).append(rid)
    return [BookedDemand(*row, staff_resource_ids=tuple(staff.get(row[0], ()))) for row in rows]


def booked_minutes(*, site_id: int, start: datetime, end: datetime, role: str) -> int:
    """Minutes of `role` staff time booked at a site by active bookings starting in [start, end): what booked_demand
    would sum for that role, in one query."""
    return sum(int((e - s).total_seconds() // 60) for s, e in _active_bookings(start, end).filter(
        site_id=site_id, service_type__staff_role=role).values_list("start", "end"))


def _active_bookings(start: datetime, end: datetime):
    return _model("Booking").objects.filter(active=True, start__gte=start, start__lt=end)


def staff_booked_intervals(*, resource_ids, start: datetime, end: datetime) -> dict[int, list[tuple]]:
    """Staff resource id -> [(start, end, site_id)] of the time they are booked, overlapping [start, end)."""
    out: dict[int, list[tuple]] = {}
    for rid, s, e, site_id in _model("BookedResource").objects.filter(
        resource_id__in=list(resource_ids), active=True, start__lt=end, end__gt=start
    ).values_list("resource_id", "start", "end", "booking__site_id"):
        out.setdefault(rid, []).append((s, e, site_id))
    return out
