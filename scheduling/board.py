"""Reads for the scheduling board: one site's resources against the clock, a day (positioned blocks) or a week (totals).

Everything is computed in a fixed number of queries, whatever the number of resources or bookings. Positions are
percentages of the visible window, worked out here so templates only place what they are given.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Prefetch
from django.urls import reverse

from healthops.models import Resource, Site
from staffing.models import Shift, StaffMember, TimeOff

from .availability import Interval, free_time, local_datetime, merge
from .models import Appointment, AvailabilityException, BookedResource, Equipment, Room

DEFAULT_HOURS = (7, 19)  # the window shown unless something happens earlier or later that day
KIND_ORDER = {Resource.Kind.STAFF: 0, Resource.Kind.ROOM: 1, Resource.Kind.EQUIPMENT: 2}
LAYER = {"shift": 0, "free": 1, "closed": 2, "off": 2, "elsewhere": 3, "booking": 4}  # later layers drawn on top


@dataclass
class BoardItem:
    """Something on a resource's line: free time, a shift, a booking, a closure or time off."""

    kind: str  # "shift" | "free" | "booking" | "closed" | "off" | "elsewhere"
    start: datetime
    end: datetime
    label: str = ""
    sub: str = ""  # bookings: the service, under the patients' initials
    title: str = ""
    url: str = ""
    status: str = ""
    css: str = ""  # left/width within the window, e.g. "left:12.5%;width:8.333%"


@dataclass
class BoardRow:
    resource_id: int
    kind: str
    name: str
    detail: str
    items: list[BoardItem] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)  # week view: one per day
    warnings: list[str] = field(default_factory=list)  # staffing: overtime, rest rule, expiring credential


@dataclass
class Board:
    site: Site
    day: date
    view: str
    rows: list[BoardRow]
    start: datetime | None = None  # day view: the visible window (UTC)
    end: datetime | None = None
    ticks: list[dict] = field(default_factory=list)
    days: list[date] = field(default_factory=list)  # week view
    full_day: bool = False  # day view: 00:00-24:00 rather than the working day
    clipped: bool = False  # day view: shifts or free time lie outside the window shown

    @property
    def step(self) -> int:
        return 7 if self.view == "week" else 1

    @property
    def prev_day(self) -> date:
        return self.day - timedelta(days=self.step)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=self.step)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for r in self.rows if r.kind == kind) for kind in KIND_ORDER}


def site_today(site: Site, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(site.tz).date()


def _day_bounds(site: Site, day: date) -> Interval:
    return local_datetime(day, time(0), site.tz), local_datetime(day + timedelta(days=1), time(0), site.tz)


def _initials(patient) -> str:
    return f"{patient.given_name[:1]}.{patient.family_name[:1]}.".upper()


def _resources_at(site: Site, start: datetime, end: datetime):
    """Staff on shift at the site in [start, end) (with their shifts), and its active rooms and equipment."""
    shifts = list(Shift.objects.filter(site=site, start__lt=end, end__gt=start).select_related("staff__resource"))
    rooms = list(Room.objects.filter(site=site, active=True).select_related("resource", "kind"))
    equipment = list(Equipment.objects.filter(site=site, active=True).select_related("resource", "kind"))
    return shifts, rooms, equipment


def _rows(shifts: list[Shift], rooms: list[Room], equipment: list[Equipment], extra_staff: list[StaffMember]):
    members = {s.staff.resource_id: s.staff for s in shifts} | {m.resource_id: m for m in extra_staff}
    rows = [BoardRow(rid, Resource.Kind.STAFF, m.display_name, m.get_role_display())
            for rid, m in sorted(members.items(), key=lambda kv: (kv[1].family_name, kv[1].given_name, kv[0]))]
    rows += [BoardRow(r.resource_id, Resource.Kind.ROOM, r.name, r.kind.name) for r in rooms]
    rows += [BoardRow(e.resource_id, Resource.Kind.EQUIPMENT, e.name, e.kind.name) for e in equipment]
    return rows, {rid: m.pk for rid, m in members.items()}


def _extra_staff(site: Site, start: datetime, end: datetime, on_shift: set[int]) -> list[StaffMember]:
    """Staff booked at the site in the window without a shift there (so their bookings still show)."""
    booked = BookedResource.objects.filter(booking__site=site, active=True, start__lt=end, end__gt=start,
                                           resource__kind=Resource.Kind.STAFF).exclude(resource_id__in=on_shift)
    return list(StaffMember.objects.filter(resource_id__in=booked.values("resource_id")))


def _position(item: BoardItem, start: datetime, end: datetime) -> BoardItem | None:
    span = (end - start).total_seconds()
    s, e = max(item.start, start), min(item.end, end)
    if e <= s:
        return None
    item.css = f"left:{100 * (s - start).total_seconds() / span:.3f}%;width:{100 * (e - s).total_seconds() / span:.3f}%"
    return item


def _window(site: Site, day: date, moments: list[datetime], full_day: bool) -> tuple[datetime, datetime, list[dict]]:
    """07:00-19:00 local, widened to whole hours around any booking earlier or later that day; or the whole day."""
    tz = site.tz
    day_start, day_end = _day_bounds(site, day)
    first, last = (0, 24) if full_day else DEFAULT_HOURS
    for moment in moments:
        moment = min(max(moment, day_start), day_end)
        if moment == day_end:
            last = 24
            continue
        local = moment.astimezone(tz)
        first = min(first, local.hour)
        last = max(last, local.hour + (1 if local.minute or local.second else 0))
    start = local_datetime(day, time(first), tz)
    end = day_end if last >= 24 else local_datetime(day, time(last), tz)
    span = (end - start).total_seconds()
    ticks = [{"label": f"{h:02d}:00",
              "css": f"left:{100 * (local_datetime(day, time(h), tz) - start).total_seconds() / span:.3f}%"}
             for h in range(first, last)]
    return start, end, ticks


def board_day(*, site: Site, day: date, full_day: bool = False) -> Board:
    """Each resource's line for one local day: free time shaded, staff shifts, bookings as blocks (service, patient
    initials, status), closures and time off."""
    day_start, day_end = _day_bounds(site, day)
    shifts, rooms, equipment = _resources_at(site, day_start, day_end)
    on_shift = {s.staff.resource_id for s in shifts}
    rows, staff = _rows(shifts, rooms, equipment, _extra_staff(site, day_start, day_end, on_shift))
    templated = [r.resource_id for r in rows if r.kind != Resource.Kind.STAFF]
    free = free_time(site_tz=site.tz, site_id=site.pk, staff=staff, template_resources=templated,
                     start=day_start, end=day_end)
    items: dict[int, list[BoardItem]] = defaultdict(list)
    for s in shifts:
        items[s.staff.resource_id].append(BoardItem("shift", s.start, s.end, label="On shift",
                                                    title=f"Shift {_hm(s.start, site)}–{_hm(s.end, site)}"))
    for rid, intervals in free.free.items():
        items[rid] += [BoardItem("free", s, e, title=f"Free {_hm(s, site)}–{_hm(e, site)}") for s, e in intervals]
    _add_bookings(items, site, list(staff) + templated, day_start, day_end)
    _add_closures(items, site, staff, templated, day_start, day_end)
    booked = [i for its in items.values() for i in its if i.kind in ("booking", "elsewhere")]
    start, end, ticks = _window(site, day, [i.start for i in booked] + [i.end for i in booked], full_day)
    clipped = any((i.start < start and i.end > day_start) or (i.end > end and i.start < day_end)
                  for its in items.values() for i in its if i.kind in ("shift", "free"))
    for row in rows:
        ordered = sorted(items.get(row.resource_id, []), key=lambda i: (LAYER[i.kind], i.start))
        row.items = [p for i in ordered if (p := _position(i, start, end))]
    _add_staffing_warnings(rows, staff, day)
    return Board(site=site, day=day, view="day", rows=rows, start=start, end=end, ticks=ticks, full_day=full_day,
                 clipped=clipped)


def _hm(moment: datetime, site: Site) -> str:
    return moment.astimezone(site.tz).strftime("%H:%M")


def _add_bookings(items, site: Site, resource_ids: list[int], start: datetime, end: datetime) -> None:
    holding = Appointment.objects.filter(status__in=Appointment.HOLDING).select_related("patient").order_by("pk")
    held = (BookedResource.objects.filter(resource_id__in=resource_ids, active=True, start__lt=end, end__gt=start)
            .select_related("booking__service_type")
            .prefetch_related(Prefetch("booking__appointments", queryset=holding, to_attr="holding")))
    for br in held:
        booking = br.booking
        if booking.site_id != site.pk:  # the same person booked at another site: busy, details not shown here
            items[br.resource_id].append(BoardItem("elsewhere", br.start, br.end, label="Other site",
                                                          title="Booked at another site"))
            continue
        appointments = booking.holding
        first = appointments[0] if appointments else None
        who = ", ".join(_initials(a.patient) for a in appointments[:3]) + ("…" if len(appointments) > 3 else "")
        if booking.service_type.capacity > 1:
            who = f"{len(appointments)}/{booking.service_type.capacity} · {who}"
        status = first.status if first else "booked"
        service = booking.service_type.name
        title = f"{_hm(br.start, site)}–{_hm(br.end, site)} {service} · {who} ({Appointment.Status(status).label})"
        url = reverse("scheduling:appointment", args=[first.pk]) if first else ""
        items[br.resource_id].append(BoardItem("booking", br.start, br.end, label=who, sub=service, title=title, url=url,
                                                status=status))


def _add_closures(items, site: Site, staff: dict[int, int], templated: list[int], start: datetime, end: datetime):
    for exc in AvailabilityException.objects.filter(resource_id__in=templated, start__lt=end, end__gt=start):
        text = exc.get_kind_display() + (f": {exc.reason}" if exc.reason else "")
        items[exc.resource_id].append(BoardItem("closed", exc.start, exc.end, label=exc.get_kind_display(), title=text))
    resource_of = {member: rid for rid, member in staff.items()}
    for off in TimeOff.objects.filter(staff_id__in=resource_of, start__lt=end, end__gt=start):
        items[resource_of[off.staff_id]].append(BoardItem("off", off.start, off.end, label="Time off", title="Time off"))


def _split_by_day(intervals: list[Interval], bounds: list[tuple[date, Interval]]) -> dict[date, int]:
    """Minutes of `intervals` falling on each local day."""
    minutes: dict[date, int] = defaultdict(int)
    for s, e in intervals:
        for day, (d_start, d_end) in bounds:
            overlap = (min(e, d_end) - max(s, d_start)).total_seconds()
            if overlap > 0:
                minutes[day] += int(overlap // 60)
    return minutes


def board_week(*, site: Site, day: date) -> Board:
    """Monday to Sunday of `day`'s week: per resource and day, minutes booked at this site and minutes open
    (booked + still free), with closures flagged."""
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    bounds = [(d, _day_bounds(site, d)) for d in days]
    start, end = bounds[0][1][0], bounds[-1][1][1]
    shifts, rooms, equipment = _resources_at(site, start, end)
    on_shift = {s.staff.resource_id for s in shifts}
    rows, staff = _rows(shifts, rooms, equipment, _extra_staff(site, start, end, on_shift))
    templated = [r.resource_id for r in rows if r.kind != Resource.Kind.STAFF]
    free = free_time(site_tz=site.tz, site_id=site.pk, staff=staff, template_resources=templated, start=start, end=end)
    booked: dict[int, list[Interval]] = defaultdict(list)
    for rid, s, e in BookedResource.objects.filter(resource_id__in=list(staff) + templated, booking__site=site,
                                                   active=True, start__lt=end, end__gt=start).values_list(
                                                   "resource_id", "start", "end"):
        booked[rid].append((s, e))
    closed: dict[int, list[Interval]] = defaultdict(list)
    for rid, s, e, in AvailabilityException.objects.filter(resource_id__in=templated, start__lt=end,
                                                           end__gt=start).values_list("resource_id", "start", "end"):
        closed[rid].append((s, e))
    for row in rows:
        booked_min = _split_by_day(merge(booked.get(row.resource_id, [])), bounds)
        free_min = _split_by_day(free.free.get(row.resource_id, []), bounds)
        closed_days = _split_by_day(merge(closed.get(row.resource_id, [])), bounds)
        row.cells = [_cell(d, booked_min.get(d, 0), free_min.get(d, 0), closed_days.get(d, 0)) for d in days]
    return Board(site=site, day=day, view="week", rows=rows, days=days)


def _cell(day: date, booked: int, free: int, closed: int) -> dict:
    open_minutes = booked + free
    share = round(100 * booked / open_minutes) if open_minutes else 0
    return {"day": day, "booked": _duration(booked), "open": _duration(open_minutes), "share": share,
            "empty": not open_minutes, "closed": bool(closed), "bar": f"width:{share}%"}


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest:02d}" if hours else f"{rest}m"


def _add_staffing_warnings(rows: list[BoardRow], staff: dict[int, int], day: date) -> None:
    """Overtime, rest-rule breaches and credentials expiring within 14 days, on the staff rows they concern."""
    from staffing.models import Credential
    from staffing.selectors import roster_week

    if not staff:
        return
    member_to_resource = {member: rid for rid, member in staff.items()}
    by_resource: dict[int, list[str]] = defaultdict(list)
    for line in roster_week(site_ids=None, week_start=day, staff_ids=list(member_to_resource)).rows:
        rid = member_to_resource.get(line.member.pk)
        if rid is None:
            continue
        if line.overtime:
            by_resource[rid].append(f"Overtime: {line.projected_hours} h projected this week (threshold {line.threshold} h)")
        by_resource[rid] += [f"Rest rule: {v}" for v in line.rest_violations]
    for c in Credential.objects.filter(staff_id__in=member_to_resource, expires_on__lte=day + timedelta(days=14)
                                       ).select_related("kind"):
        verb = "expired" if c.expires_on < day else "expires"
        by_resource[member_to_resource[c.staff_id]].append(f"{c.kind.name} {verb} {c.expires_on:%b %-d}")
    for row in rows:
        row.warnings = by_resource.get(row.resource_id, [])
