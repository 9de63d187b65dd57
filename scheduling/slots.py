"""Slot search: concrete bundles (time, staff member, room, equipment) whose resources are all free together.

Ranking: earliest day first; within a day, the better fit with the patient's preferences first, then the earlier
time, then the least-loaded staff member and room (to spread work). A group service (capacity > 1) also offers the
open places in sessions already booked.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from healthops.errors import DomainError
from healthops.models import Site
from staffing.models import StaffMember

from .availability import FreeTime, free_time
from .models import Appointment, Booking, Equipment, NetworkVersion, Room, ServiceType

SLOT_SALT = "healthops.slot.v1"
TIME_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


@dataclass(frozen=True)
class Preferences:
    sites: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    time_of_day: str = "any"

    def fit(self, site_id: int, local: datetime) -> int:
        score = 0
        if self.sites and site_id in self.sites:
            score += 1
        if self.weekdays and local.weekday() in self.weekdays:
            score += 1
        if self.time_of_day in TIME_OF_DAY:
            low, high = TIME_OF_DAY[self.time_of_day]
            score += low <= local.hour < high
        return score


@dataclass(frozen=True)
class Candidate:
    service_type_id: int
    site_id: int
    start: datetime
    end: datetime
    staff_resource_id: int | None
    room_resource_id: int | None
    equipment_resource_ids: tuple[int, ...]
    booking_id: int | None = None  # joining an existing group session
    fit: int = 0
    load: int = 0
    labels: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def resource_ids(self) -> list[int]:
        ids = [self.staff_resource_id, self.room_resource_id, *self.equipment_resource_ids]
        return [i for i in ids if i]

    @property
    def token(self) -> str:
        return signing.dumps(
            {"st": self.service_type_id, "si": self.site_id, "s": self.start.isoformat(), "e": self.end.isoformat(),
             "r": self.resource_ids, "b": self.booking_id},
            salt=SLOT_SALT, compress=True,
        )


@dataclass(frozen=True)
class SlotRef:
    """A decoded slot token."""

    service_type_id: int
    site_id: int
    start: datetime
    end: datetime
    resource_ids: list[int]
    booking_id: int | None


def decode_slot(token: str) -> SlotRef:
    try:
        raw = signing.loads(token, salt=SLOT_SALT)
        return SlotRef(raw["st"], raw["si"], datetime.fromisoformat(raw["s"]), datetime.fromisoformat(raw["e"]),
                       list(raw["r"]), raw.get("b"))
    except (signing.BadSignature, KeyError, ValueError, TypeError) as exc:
        raise DomainError("That slot reference is not valid; search for slots again.", code="invalid-slot") from exc


@dataclass
class SitePlan:
    """Who and what at one site can deliver the service."""

    site: Site
    staff: dict[int, StaffMember]  # resource id -> member
    rooms: list[int]
    equipment: list[list[int]]  # one list of resource ids per required equipment kind

    @property
    def feasible(self) -> bool:
        return bool(self.staff) and self.rooms is not None and all(self.equipment)


# Plans by (service type and what of it a plan depends on, sites), each with the network token it was read under.
_plans: dict[tuple, tuple[str, list[SitePlan]]] = {}


def site_plans(service_type: ServiceType, site_ids: list[int] | None) -> list[SitePlan]:
    """Who and what at each active site (of `site_ids`, or all) can deliver the service. Kept in this process while
    the network token stays the same (NetworkVersion: database triggers change it with every write to what a plan
    reads), so a search reads one row where it read seven tables. The plans are shared: read them, do not change them."""
    token = _network_token()
    key = (service_type.pk, service_type.staff_role, service_type.staff_specialty_id,
           service_type.required_credential_id, service_type.room_kind_id, tuple(sorted(site_ids or ())))
    cached = _plans.get(key)
    if token is not None and cached is not None and cached[0] == token:
        return list(cached[1])
    plans = _read_site_plans(service_type, site_ids)
    if token is not None:
        if len(_plans) >= 512:
            _plans.clear()
        _plans[key] = (token, plans)
    return list(plans)


def _network_token() -> str | None:
    """The network's current token (read before the plans it keys: a change committed in between makes the next
    search read them again); None where no triggers keep it (other databases). A flush that emptied the table (the
    test runner's) leaves a new row with a new token."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return None
    token = NetworkVersion.objects.filter(pk=1).values_list("token", flat=True).first()
    if token is None:
        token = NetworkVersion.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})[0].token
    return token


def _read_site_plans(service_type: ServiceType, site_ids: list[int] | None) -> list[SitePlan]:
    sites = Site.objects.filter(active=True)
    if site_ids:
        sites = sites.filter(pk__in=site_ids)
    staff = StaffMember.objects.filter(active=True, role=service_type.staff_role).prefetch_related("sites")
    if service_type.staff_specialty_id:
        staff = staff.filter(specialties=service_type.staff_specialty_id)
    if service_type.required_credential_id:
        staff = staff.filter(credentials__kind_id=service_type.required_credential_id).prefetch_related("credentials")
    staff = list(staff.distinct())
    rooms_by_site = defaultdict(list)
    if service_type.room_kind_id:
        for site_id, rid in Room.objects.filter(active=True, kind_id=service_type.room_kind_id).values_list(
            "site_id", "resource_id"
        ):
            rooms_by_site[site_id].append(rid)
    kinds = list(service_type.equipment_kinds.values_list("pk", flat=True))
    equipment_by_site_kind = defaultdict(list)
    for site_id, kind_id, rid in Equipment.objects.filter(active=True, kind_id__in=kinds).values_list(
        "site_id", "kind_id", "resource_id"
    ):
        equipment_by_site_kind[(site_id, kind_id)].append(rid)
    plans = []
    for site in sites:
        members = {m.resource_id: m for m in staff if any(s.pk == site.pk for s in m.sites.all())}
        rooms = rooms_by_site.get(site.pk, []) if service_type.room_kind_id else []
        if service_type.room_kind_id and not rooms:
            continue
        plan = SitePlan(site, members, rooms, [equipment_by_site_kind.get((site.pk, k), []) for k in kinds])
        if plan.feasible:
            plans.append(plan)
    return plans


def _credential_valid(member: StaffMember, service_type: ServiceType, day: date) -> bool:
    if not service_type.required_credential_id:
        return True
    return any(c.kind_id == service_type.required_credential_id and c.expires_on >= day for c in member.credentials.all())


def _pick(ids: list[int], free: FreeTime, start: datetime, end: datetime, day: date) -> int | None:
    options = [rid for rid in ids if free.is_free(rid, start, end)]
    return min(options, key=lambda rid: (free.load_on(rid, day), rid)) if options else None


def _grid_start(moment: datetime, tz: ZoneInfo, step: int) -> datetime:
    """The first grid point (every `step` minutes of local wall time) at or after `moment`."""
    local = moment.astimezone(tz)
    floor = local.replace(minute=(local.minute // step) * step, second=0, microsecond=0)
    if floor < local:
        floor += timedelta(minutes=step)
    return floor.astimezone(UTC)


def _site_candidates(plan: SitePlan, service_type: ServiceType, start: datetime, end: datetime,
                     prefs: Preferences, valid: tuple[date | None, date | None]) -> list[Candidate]:
    tz = plan.site.tz
    step = settings.SLOT_GRID_MINUTES
    duration = timedelta(minutes=service_type.duration_minutes)
    free = free_time(site_tz=tz, site_id=plan.site.pk, staff={rid: m.pk for rid, m in plan.staff.items()},
                     template_resources=plan.rooms + [rid for ids in plan.equipment for rid in ids], start=start, end=end)
    by_start: dict[datetime, Candidate] = {}
    for staff_rid, member in plan.staff.items():
        for iv_start, iv_end in free.free.get(staff_rid, []):
            t = _grid_start(iv_start, tz, step)
            while t + duration <= iv_end:
                local = t.astimezone(tz)
                day = local.date()
                if (valid[0] and day < valid[0]) or (valid[1] and day > valid[1]):
                    t += timedelta(minutes=step)
                    continue
                end_t = t + duration
                if not _credential_valid(member, service_type, day):
                    break
                room = _pick(plan.rooms, free, t, end_t, day) if plan.rooms else None
                equipment = [_pick(ids, free, t, end_t, day) for ids in plan.equipment]
                if (not plan.rooms or room) and all(equipment):
                    load = free.load_on(staff_rid, day) + (free.load_on(room, day) if room else 0)
                    current = by_start.get(t)
                    if current is None or load < current.load:
                        by_start[t] = Candidate(service_type.pk, plan.site.pk, t, end_t, staff_rid, room,
                                                tuple(equipment), fit=prefs.fit(plan.site.pk, local), load=load)
                t += timedelta(minutes=step)
    return list(by_start.values())


def _open_group_sessions(service_type: ServiceType, site_ids: list[int], start: datetime, end: datetime,
                         prefs: Preferences) -> list[Candidate]:
    if service_type.capacity <= 1:
        return []
    sessions = (
        Booking.objects.filter(service_type=service_type, site_id__in=site_ids, active=True, start__gte=start,
                               start__lt=end)
        .annotate(taken=Count("appointments", filter=Q(appointments__status__in=Appointment.HOLDING)))
        .filter(taken__lt=service_type.capacity)
        .select_related("site")
        .prefetch_related("resources")
    )
    out = []
    for b in sessions:
        held = [r.resource_id for r in b.resources.all() if r.active]
        local = b.start.astimezone(b.site.tz)
        out.append(Candidate(service_type.pk, b.site_id, b.start, b.end, held[0] if held else None, None,
                             tuple(held[1:]), booking_id=b.pk, fit=prefs.fit(b.site_id, local), load=-1))
    return out


def find_slots(
    *, service_type: ServiceType, start: datetime | None = None, end: datetime | None = None,
    sites: list[int] | None = None, preferences: Preferences | None = None,
    valid_from: date | None = None, valid_to: date | None = None, limit: int = 20, now: datetime | None = None,
) -> list[Candidate]:
    """Ranked free bundles for `service_type` between `start` and `end` (default: from the minimum notice on,
    for SLOT_SEARCH_DAYS). `valid_from`/`valid_to` (an authorization's dates, site-local) bound the days."""
    now = now or timezone.now()
    earliest = now + timedelta(hours=service_type.min_notice_hours)
    start = max(start or earliest, earliest)
    end = end or start + timedelta(days=settings.SLOT_SEARCH_DAYS)
    if end <= start:
        return []
    prefs = preferences or Preferences()
    plans = site_plans(service_type, sites)
    tz_of = {p.site.pk: p.site.tz for p in plans}

    def local_day(moment: datetime, site_id: int) -> date:
        return moment.astimezone(tz_of.get(site_id, UTC)).date()

    def rank(c: Candidate):
        return (local_day(c.start, c.site_id), -c.fit, c.start, c.load, c.site_id)

    # Search in growing chunks (2, 4, then 7 days): ranking is by day first, so once `limit` candidates lie on days
    # the chunks so far have covered whole, no later day can outrank them. The earliest slots are usually days away,
    # and a short first chunk reads and walks two days of rows, not a week.
    candidates: list[Candidate] = []
    chunk_start, span = start, timedelta(days=2)
    while chunk_start < end:
        chunk_end = min(end, chunk_start + span)
        for plan in plans:
            candidates += _site_candidates(plan, service_type, chunk_start, chunk_end, prefs, (valid_from, valid_to))
        candidates += _open_group_sessions(service_type, list(tz_of) or (sites or []), chunk_start, chunk_end, prefs)
        chunk_start, span = chunk_end, min(span * 2, timedelta(days=7))
        if len(candidates) >= limit and sum(  # candidates on days searched whole, which later days cannot outrank
                local_day(c.start, c.site_id) < local_day(chunk_end, c.site_id) for c in candidates) >= limit:
            break
    candidates.sort(key=rank)
    return candidates[:limit]


def third_next_available(*, service_type: ServiceType, site: Site, now: datetime | None = None,
                         horizon_days: int = 90) -> float | None:
    """Days from now to the third-next available slot (the access measure); None when fewer than three exist."""
    now = now or timezone.now()
    found = find_slots(service_type=service_type, sites=[site.pk], start=now, end=now + timedelta(days=horizon_days),
                       limit=3, now=now)
    if len(found) < 3:
        return None
    return round((found[2].start - now).total_seconds() / 86400, 1)
