"""The demo network's structure: organizations, sites, catalog, payers and rules, staff with shifts, rooms,
equipment and demo users. Reference data has no services of its own (the admin is its console), so it is written
with the ORM, one row at a time so the audit log records it; shifts, opening hours and closures arrive in bulk, as a
workforce or facilities import would. Every row is looked up by its natural key first and skipped when it exists."""

import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from authorizations.models import Payer, PayerRule
from healthops.models import Department, Organization, Resource, Site, UserProfile
from healthops.permissions import ensure_roles
from scheduling.models import (
    AvailabilityException,
    DocumentKind,
    Equipment,
    EquipmentKind,
    Room,
    RoomKind,
    ServiceType,
    WeeklyAvailability,
)
from staffing.models import Credential, CredentialKind, Shift, Specialty, StaffMember, TimeOff

from . import catalog as C
from .calendar import Calendar, RosterEntry, from_minutes, shift_on
from .names import fictional_phone, npi, staff_name

SEED = 20240611  # every random choice in the demo derives from this
PAST_DAYS = 63  # shifts are laid out from 9 weeks back (past appointments need them) ...
FUTURE_DAYS = 49  # ... to 7 weeks ahead (always covers the coming six weeks)
ROOM_DEPARTMENT = {"mri-suite": "radiology", "ct-room": "radiology", "ultrasound-room": "radiology",
                   "xray-room": "radiology", "echo-lab": "cardiology", "infusion-bay": "infusion",
                   "therapy-gym": "rehab", "sleep-lab": "sleep", "education-room": "endocrinology",
                   "exam-room": "primary-care", "procedure-room": "primary-care"}


def rng_for(*parts) -> random.Random:
    """One independent, reproducible stream per entity, so an entity looks the same whatever else exists."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))


@dataclass
class SeedContext:
    actor: object
    now: datetime
    anchor: date  # Monday of the current week: shift windows move a week at a time, so reruns stay no-ops
    counts: Counter = field(default_factory=Counter)
    network: Organization | None = None
    partner: Organization | None = None
    sites: dict[str, Site] = field(default_factory=dict)
    departments: dict[tuple[str, str], Department] = field(default_factory=dict)
    specialties: dict[str, Specialty] = field(default_factory=dict)
    credential_kinds: dict[str, CredentialKind] = field(default_factory=dict)
    room_kinds: dict[str, RoomKind] = field(default_factory=dict)
    equipment_kinds: dict[str, EquipmentKind] = field(default_factory=dict)
    document_kinds: dict[str, DocumentKind] = field(default_factory=dict)
    services: dict[str, ServiceType] = field(default_factory=dict)
    payers: dict[str, Payer] = field(default_factory=dict)
    practices: list[tuple[Organization, list[tuple[str, str]]]] = field(default_factory=list)
    roster: list[RosterEntry] = field(default_factory=list)
    calendar: Calendar | None = None

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def site_tz(self) -> dict[str, str]:
        return {code: site.time_zone for code, site in self.sites.items()}


def _get_or_create(ctx: SeedContext, label: str, model, defaults=None, **lookup):
    obj = model.objects.filter(**lookup).first()
    if obj is not None:
        return obj, False
    obj = model.objects.create(**lookup, **(defaults or {}))
    ctx.counts[label] += 1
    return obj, True


def seed_reference_data(ctx: SeedContext) -> None:
    code, name, phone = C.NETWORK
    ctx.network, _ = _get_or_create(ctx, "organizations", Organization, identifier=code,
                                    defaults={"name": name, "kind": Organization.Kind.NETWORK, "phone": phone})
    code, name, phone = C.PARTNER
    ctx.partner, _ = _get_or_create(ctx, "organizations", Organization, identifier=code,
                                    defaults={"name": name, "kind": Organization.Kind.PARTNER, "phone": phone})
    for n, (code, name, kind, tz, address, area) in enumerate(C.SITES, start=1):
        site, _ = _get_or_create(ctx, "sites", Site, code=code, defaults={
            "organization": ctx.network, "name": name, "kind": kind, "time_zone": tz, "address": address,
            "phone": fictional_phone(area, 10 + n)})
        ctx.sites[code] = site
        for m, dept in enumerate(C.DEPARTMENTS[code], start=1):
            ctx.departments[(code, dept)], _ = _get_or_create(
                ctx, "departments", Department, site=site, code=dept,
                defaults={"name": C.DEPARTMENT_NAMES[dept], "cost_centre": f"CC-{n}{m:02d}0"})
    for label, model, values, target in (
        ("specialties", Specialty, C.SPECIALTIES, ctx.specialties),
        ("credential kinds", CredentialKind, C.CREDENTIAL_KINDS, ctx.credential_kinds),
        ("room kinds", RoomKind, C.ROOM_KINDS, ctx.room_kinds),
        ("equipment kinds", EquipmentKind, C.EQUIPMENT_KINDS, ctx.equipment_kinds),
        ("document kinds", DocumentKind, C.DOCUMENT_KINDS, ctx.document_kinds),
    ):
        for code, name in values.items():
            target[code], _ = _get_or_create(ctx, label, model, code=code, defaults={"name": name})
    for s in C.SERVICES:
        service, created = _get_or_create(ctx, "service types", ServiceType, code=s.code, defaults={
            "name": s.name, "specialty": ctx.specialties[s.specialty], "duration_minutes": s.minutes,
            "staff_role": s.role, "staff_specialty": ctx.specialties.get(s.staff_specialty or ""),
            "required_credential": ctx.credential_kinds.get(s.credential or ""),
            "room_kind": ctx.room_kinds.get(s.room_kind or ""), "capacity": s.capacity, "auto_book": s.auto_book,
            "min_notice_hours": s.notice})
        if created:
            service.equipment_kinds.set([ctx.equipment_kinds[k] for k in s.equipment])
            service.required_documents.set([ctx.document_kinds[k] for k in s.documents])
        ctx.services[s.code] = service
    for identifier, name, key, phone in C.PAYERS:
        org, _ = _get_or_create(ctx, "organizations", Organization, identifier=identifier,
                                defaults={"name": name, "kind": Organization.Kind.PAYER, "phone": phone})
        ctx.payers[identifier], _ = _get_or_create(ctx, "payers", Payer, identifier=identifier, defaults={
            "organization": org, "name": name, "sandbox_key": key, "phone": phone})
    for identifier, payer in ctx.payers.items():
        for s in C.SERVICES:
            rule, created = _get_or_create(
                ctx, "payer rules", PayerRule, payer=payer, service_type=ctx.services[s.code],
                defaults={"prior_auth_required": C.prior_auth_required(identifier, s.code),
                          "notes": C.PAYER_NOTES.get(s.code, "") if C.prior_auth_required(identifier, s.code) else ""})
            if created and C.payer_documents(identifier, s.code):
                rule.required_documents.set([ctx.document_kinds[k] for k in C.payer_documents(identifier, s.code)])
    for base, name, area, practitioners in C.PRACTICES:
        org, _ = _get_or_create(ctx, "organizations", Organization, identifier=npi(900_000 + base), defaults={
            "name": name, "kind": Organization.Kind.PRACTICE, "phone": fictional_phone(area, base % 100 + 20),
            "fax": fictional_phone(area, base % 100 + 40)})
        people = [(f"Dr. {given} {family}", npi(base * 100 + i)) for i, (given, family) in enumerate(practitioners)]
        ctx.practices.append((org, people))


def seed_rooms_and_equipment(ctx: SeedContext) -> None:
    for site_code, rooms in C.ROOMS.items():
        site = ctx.sites[site_code]
        by_name = {}
        for name, kind in rooms:
            room = Room.objects.filter(site=site, name=name).first()
            if room is None:
                resource = Resource.objects.create(kind=Resource.Kind.ROOM, name=f"{name}, {site.name}", site=site)
                room = Room.objects.create(resource=resource, site=site, name=name, kind=ctx.room_kinds[kind],
                                           department=ctx.departments.get((site_code, ROOM_DEPARTMENT[kind])))
                ctx.counts["rooms"] += 1
            by_name[name] = room
        for n, (name, kind, room_name) in enumerate(C.EQUIPMENT[site_code], start=1):
            if Equipment.objects.filter(site=site, name=name).exists():
                continue
            resource = Resource.objects.create(kind=Resource.Kind.EQUIPMENT, name=f"{name}, {site.name}", site=site)
            Equipment.objects.create(resource=resource, site=site, name=name, kind=ctx.equipment_kinds[kind],
                                     room=by_name.get(room_name), serial_number=f"DEMO-{site_code[:3].upper()}-{n:03d}")
            ctx.counts["equipment"] += 1


def seed_availability(ctx: SeedContext, first: date, last: date) -> None:
    """Opening hours for every room and equipment item that has none yet, clinic holiday closures in [first, last],
    and a few maintenance windows."""
    items = [(r.resource_id, r.site.code, r.kind.code, r.site.kind) for r in
             Room.objects.filter(site__in=ctx.sites.values()).select_related("site", "kind")]
    items += [(e.resource_id, e.site.code, e.room.kind.code if e.room else "", e.site.kind) for e in
              Equipment.objects.filter(site__in=ctx.sites.values()).select_related("site", "room__kind")]
    with_hours = set(WeeklyAvailability.objects.filter(resource_id__in=[i[0] for i in items])
                     .values_list("resource_id", flat=True))
    rows = []
    for resource_id, _site, room_kind, site_kind in items:
        if resource_id in with_hours:
            continue
        hours = C.OPEN_HOURS["sleep-lab" if room_kind == "sleep-lab" else site_kind]
        for weekday, windows in hours.items():
            rows += [WeeklyAvailability(resource_id=resource_id, weekday=weekday, start_time=time.fromisoformat(a),
                                        end_time=time.fromisoformat(b)) for a, b in windows]
    WeeklyAvailability.objects.bulk_create(rows, batch_size=2000)
    ctx.counts["weekly availability"] += len(rows)

    existing = set(AvailabilityException.objects.filter(resource_id__in=[i[0] for i in items])
                   .values_list("resource_id", "start"))
    exceptions = []
    for resource_id, site, _kind, site_kind in items:
        if site_kind != "clinic":
            continue
        tz = zoneinfo.ZoneInfo(ctx.sites[site].time_zone)
        for year in range(first.year, last.year + 1):
            for day, name in C.holidays(year).items():
                start = datetime.combine(day, time(0), tzinfo=tz)
                if first <= day <= last and (resource_id, start) not in existing:
                    exceptions.append(AvailabilityException(
                        resource_id=resource_id, kind=AvailabilityException.Kind.HOLIDAY, start=start,
                        end=start + timedelta(days=1), reason=f"{name}: clinic closed"))
    for site, name, offset, a, b, reason in C.MAINTENANCE:
        item = Equipment.objects.filter(site=ctx.sites[site], name=name).first()
        if item is None or AvailabilityException.objects.filter(resource_id=item.resource_id,
                                                                kind=AvailabilityException.Kind.MAINTENANCE).exists():
            continue
        tz, day = zoneinfo.ZoneInfo(ctx.sites[site].time_zone), ctx.anchor + timedelta(days=offset)
        exceptions.append(AvailabilityException(
            resource_id=item.resource_id, kind=AvailabilityException.Kind.MAINTENANCE, reason=reason,
            start=datetime.combine(day, time.fromisoformat(a), tzinfo=tz),
            end=datetime.combine(day, time.fromisoformat(b), tzinfo=tz)))
    AvailabilityException.objects.bulk_create(exceptions, batch_size=2000)
    ctx.counts["availability exceptions"] += len(exceptions)


def _staff_plan():
    """(external id, index, group, sites, pattern) for every demo staff member, in a fixed order."""
    index = 0
    for group in C.STAFF_GROUPS:
        for sites, pattern in group.members:
            index += 1
            yield f"WF-{1000 + index}", index, group, sites, pattern


def _time_off_blocks(index: int, anchor: date) -> list[tuple[date, int, str]]:
    """A few staff members have leave: some in the coming weeks, some in the past."""
    blocks = []
    if index % 6 == 2:
        blocks.append((anchor + timedelta(days=7 * (1 + index % 4) + 1), 3, "Vacation"))
    if index % 6 == 5:
        blocks.append((anchor - timedelta(days=7 * (1 + index % 6) - 2), 2, "Conference"))
    if index % 13 == 0:
        blocks.append((anchor - timedelta(days=3), 1, "Sick leave"))
    return blocks


def seed_staff(ctx: SeedContext) -> None:
    existing = set(StaffMember.objects.filter(external_id__startswith="WF-").values_list("external_id", flat=True))
    for external_id, index, group, sites, _pattern in _staff_plan():
        if external_id in existing:
            continue
        rng = rng_for("staff", external_id)
        given, family, _sex = staff_name(index)
        home = ctx.departments.get((sites[0], group.department))
        resource = Resource.objects.create(kind=Resource.Kind.STAFF, name=f"{given} {family}")
        staff = StaffMember.objects.create(
            resource=resource, given_name=given, family_name=family, role=group.role, home_department=home,
            npi=npi(5_000 + index) if group.role in ("physician", "nurse-practitioner") else "",
            hourly_cost=Decimal(f"{rng.uniform(*group.cost):.2f}"), cost_centre=home.cost_centre if home else "CC-000",
            external_id=external_id)
        staff.specialties.set([ctx.specialties[s] for s in group.specialties])
        staff.sites.set([ctx.sites[s] for s in dict.fromkeys(sites)])
        for n, kind in enumerate(group.credentials):
            soon = index % 5 == 1 and n == len(group.credentials) - 1  # some renewals fall due within 30 days
            expires = ctx.today + timedelta(days=5 + index % 24 if soon else rng.randint(150, 1000))
            Credential.objects.create(staff=staff, kind=ctx.credential_kinds[kind], expires_on=expires,
                                      issued_on=expires - timedelta(days=730),
                                      number=f"{kind[:3].upper()}-{rng.randint(100000, 999999)}")
        tz = zoneinfo.ZoneInfo(ctx.sites[sites[0]].time_zone)
        for first, days, reason in _time_off_blocks(index, ctx.anchor):
            TimeOff.objects.create(staff=staff, reason=reason,
                                   start=datetime.combine(first, time(0), tzinfo=tz),
                                   end=datetime.combine(first + timedelta(days=days), time(0), tzinfo=tz))
        ctx.counts["staff"] += 1


def load_roster(ctx: SeedContext) -> None:
    """The calendar's view of the demo staff: roster pattern from the catalog, credentials and leave from the db."""
    plan = {ext: (group, sites, pattern) for ext, _i, group, sites, pattern in _staff_plan()}
    members = StaffMember.objects.filter(external_id__in=plan).prefetch_related("specialties", "credentials__kind",
                                                                                "time_off")
    ctx.roster = []
    for staff in members.order_by("external_id"):
        group, sites, pattern = plan[staff.external_id]
        tz = zoneinfo.ZoneInfo(ctx.sites[sites[0]].time_zone)
        days_off = set()
        for leave in staff.time_off.all():
            day, last = leave.start.astimezone(tz).date(), (leave.end - timedelta(seconds=1)).astimezone(tz).date()
            while day <= last:
                days_off.add(day)
                day += timedelta(days=1)
        ctx.roster.append(RosterEntry(
            staff_id=staff.pk, resource_id=staff.resource_id, role=staff.role,
            specialties=frozenset(s.code for s in staff.specialties.all()), sites=sites, pattern=pattern,
            credentials={c.kind.code: c.expires_on for c in staff.credentials.all()}, days_off=days_off))


def seed_shifts(ctx: SeedContext, first: date, last: date) -> None:
    """Roster shifts for every day in [first, last], as a workforce import would deliver them (bulk, idempotent)."""
    start_bound = datetime.combine(first - timedelta(days=1), time(0), tzinfo=ctx.now.tzinfo)
    existing = set(Shift.objects.filter(start__gte=start_bound, staff_id__in=[e.staff_id for e in ctx.roster])
                   .values_list("staff_id", "start"))
    externals = dict(StaffMember.objects.filter(pk__in=[e.staff_id for e in ctx.roster]).values_list("pk", "external_id"))
    homes = dict(StaffMember.objects.filter(pk__in=[e.staff_id for e in ctx.roster])
                 .values_list("pk", "home_department__code"))
    new = []
    for entry in ctx.roster:
        day = first
        while day <= last:
            shift = shift_on(entry, day, ctx.site_tz)
            if shift is not None:
                start = from_minutes(shift.start)
                if (entry.staff_id, start) not in existing:
                    new.append(Shift(
                        staff_id=entry.staff_id, site=ctx.sites[shift.site], start=start, end=from_minutes(shift.end),
                        department=ctx.departments.get((shift.site, homes[entry.staff_id] or "")),
                        source=Shift.Source.WORKFORCE, external_id=f"DEMO-{externals[entry.staff_id]}-{day:%Y%m%d}"))
            day += timedelta(days=1)
    Shift.objects.bulk_create(new, batch_size=2000)
    ctx.counts["shifts"] += len(new)


def build_calendar(ctx: SeedContext) -> Calendar:
    from scheduling.models import BookedResource

    rooms = [(r.resource_id, r.site.code, r.kind.code, r.pk)
             for r in Room.objects.filter(active=True, site__in=ctx.sites.values()).select_related("site", "kind")]
    equipment = [(e.resource_id, e.site.code, e.kind.code, e.room_id)
                 for e in Equipment.objects.filter(active=True, site__in=ctx.sites.values()).select_related("site", "kind")]
    busy = list(BookedResource.objects.filter(active=True).values_list("resource_id", "start", "end").iterator())
    blocked = list(AvailabilityException.objects.values_list("resource_id", "start", "end"))
    ctx.calendar = Calendar(site_tz=ctx.site_tz, staff=ctx.roster, rooms=rooms, equipment=equipment, busy=busy,
                            blocked=blocked)
    return ctx.calendar


def seed_users(ctx: SeedContext) -> None:
    ensure_roles()
    User = get_user_model()
    password = None  # one hash for the one published password (hashing is slow by design)
    for username, (group_name, title, site_codes) in C.DEMO_USERS.items():
        if User.objects.filter(username=username).exists():
            continue
        is_admin = username == "admin"
        password = password or make_password(C.DEMO_PASSWORD)
        user = User.objects.create(
            username=username, password=password, email=f"{username}@example.org",
            first_name=title.split(" (")[0], last_name="(demo)", is_staff=is_admin, is_superuser=is_admin)
        user.groups.add(Group.objects.get(name=group_name))
        profile, _ = UserProfile.objects.get_or_create(user=user, defaults={
            "title": title, "network_wide": site_codes is None})
        if site_codes:
            profile.sites.set([ctx.sites[c] for c in site_codes])
        ctx.counts["users"] += 1
