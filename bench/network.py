"""Bench-only capacity: a twin of every staff member, room and equipment item of the demo network, rostered and open
for the next 90 days, so slot search runs over 200+ resources. Idempotent (twins are found by name)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from healthops.models import Resource
from scheduling.models import Equipment, Room, WeeklyAvailability
from staffing.models import Shift, StaffMember

TWIN = "Bench twin of "
DAYS = 90


@transaction.atomic
def ensure_bench_capacity() -> dict:
    created = {"staff": 0, "rooms": 0, "equipment": 0, "shifts": 0}
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for room in Room.objects.exclude(name__startswith=TWIN).select_related("resource"):
        name = f"{TWIN}{room.name}"[:100]
        if Room.objects.filter(site=room.site, name=name).exists():
            continue
        twin = Room.objects.create(resource=Resource.objects.create(kind="room", name=name, site=room.site),
                                   site=room.site, department=room.department, name=name, kind=room.kind)
        _copy_templates(room.resource, twin.resource)
        created["rooms"] += 1
    for item in Equipment.objects.exclude(name__startswith=TWIN).select_related("resource"):
        name = f"{TWIN}{item.name}"[:100]
        if Equipment.objects.filter(site=item.site, name=name).exists():
            continue
        twin = Equipment.objects.create(resource=Resource.objects.create(kind="equipment", name=name, site=item.site),
                                        site=item.site, name=name, kind=item.kind)
        _copy_templates(item.resource, twin.resource)
        created["equipment"] += 1
    for member in StaffMember.objects.exclude(external_id__startswith="BENCH-").prefetch_related("specialties", "sites",
                                                                                                 "credentials"):
        twin_id = f"BENCH-{member.external_id}"
        twin = StaffMember.objects.filter(external_id=twin_id).first()
        if twin is None:
            twin = StaffMember.objects.create(
                resource=Resource.objects.create(kind="staff", name=f"{TWIN}{member.given_name} {member.family_name}"),
                given_name=member.given_name, family_name=f"{member.family_name} (twin)", role=member.role,
                hourly_cost=member.hourly_cost, cost_centre=member.cost_centre, external_id=twin_id)
            twin.specialties.set(member.specialties.all())
            twin.sites.set(member.sites.all())
            for credential in member.credentials.all():
                credential.pk, credential.staff = None, twin
                credential.save()
            created["staff"] += 1
        for person in (member, twin):
            created["shifts"] += _roster(person, member, today)
    return created


def _copy_templates(source: Resource, target: Resource) -> None:
    WeeklyAvailability.objects.bulk_create([
        WeeklyAvailability(resource=target, weekday=w.weekday, start_time=w.start_time, end_time=w.end_time)
        for w in WeeklyAvailability.objects.filter(resource=source)])


def _roster(person: StaffMember, model: StaffMember, today) -> int:
    """Repeat the model's shift pattern of the last two weeks, week by week, for the next 90 days."""
    pattern = list(Shift.objects.filter(staff=model, start__gte=today - timedelta(days=14), start__lt=today))
    if not pattern:
        return 0
    existing = set(Shift.objects.filter(staff=person, start__gte=today).values_list("start", flat=True))
    new = []
    for week in range(0, DAYS // 7 + 1):
        for shift in pattern:
            start = shift.start + timedelta(days=14 + 7 * week)
            if start >= today + timedelta(days=DAYS) or start in existing:
                continue
            existing.add(start)
            new.append(Shift(staff=person, site=shift.site, department=shift.department, start=start,
                             end=shift.end + timedelta(days=14 + 7 * week), source=Shift.Source.MANUAL))
    Shift.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)
