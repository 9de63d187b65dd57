"""The demo roster (who works where, when) and a small in-memory calendar that finds free, non-overlapping slots.

The seed books through `appointment_book` (base) or bulk inserts (benchmark volume); either way it first asks this
calendar for a slot where a qualified staff member is on shift and a room and equipment of the right kinds are free,
so no booking ever overlaps another one (PostgreSQL's exclusion constraint would refuse it anyway)."""

import bisect
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from .catalog import PATTERNS, SERVICES, Service, closed_on

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STEP = 15  # minutes between candidate start times


def to_minutes(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds() // 60)


def from_minutes(minutes: int) -> datetime:
    return EPOCH + timedelta(minutes=minutes)


@dataclass
class RosterEntry:
    """One staff member as the calendar sees them."""

    staff_id: int
    resource_id: int
    role: str
    specialties: frozenset[str]
    sites: tuple[str, ...]
    pattern: str
    credentials: dict[str, date] = field(default_factory=dict)
    days_off: set[date] = field(default_factory=set)


@dataclass(frozen=True)
class Shift:
    site: str
    start: int  # minutes since the epoch, UTC
    end: int


@dataclass(frozen=True)
class Slot:
    service: Service
    site: str
    start: int
    end: int
    staff: RosterEntry
    resource_ids: tuple[int, ...]
    day: date  # the local date of the shift it falls in

    @property
    def start_at(self) -> datetime:
        return from_minutes(self.start)

    @property
    def end_at(self) -> datetime:
        return from_minutes(self.end)


def shift_on(entry: RosterEntry, day: date, site_tz: dict[str, str]) -> Shift | None:
    """The roster's shift for `entry` starting on `day` (local date at its site), or None (off, or time off)."""
    hours = PATTERNS[entry.pattern].get(day.weekday())
    if hours is None or day in entry.days_off:
        return None
    site = entry.sites[day.weekday() % len(entry.sites)]
    if closed_on(site, day):
        return None
    tz = zoneinfo.ZoneInfo(site_tz[site])
    (sh, sm), (eh, em) = (map(int, hours[0].split(":")), map(int, hours[1].split(":")))
    start = datetime.combine(day, time(sh, sm), tzinfo=tz)
    end = datetime.combine(day, time(eh, em), tzinfo=tz)
    if end <= start:  # night shift: ends the next morning
        end = datetime.combine(day + timedelta(days=1), time(eh, em), tzinfo=tz)
    return Shift(site, to_minutes(start.astimezone(UTC)), to_minutes(end.astimezone(UTC)))


class Calendar:
    """Free/busy for every resource, and a search for a slot that satisfies a service type."""

    def __init__(self, *, site_tz: dict[str, str], staff: list[RosterEntry],
                 rooms: list[tuple[int, str, str, int]], equipment: list[tuple[int, str, str, int | None]],
                 busy: list[tuple[int, datetime, datetime]], blocked: list[tuple[int, datetime, datetime]] = ()):
        self.site_tz = site_tz
        self.staff = staff
        # (site, room kind) -> [(resource id, room id)]; (site, equipment kind) -> [(resource id, room id or None)]
        self.rooms: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for resource_id, site, kind, room_id in rooms:
            self.rooms[(site, kind)].append((resource_id, room_id))
        self.equipment: dict[tuple[str, str], list[tuple[int, int | None]]] = defaultdict(list)
        for resource_id, site, kind, room_id in equipment:
            self.equipment[(site, kind)].append((resource_id, room_id))
        self.busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.load: dict[tuple[int, date], int] = defaultdict(int)
        for resource_id, start, end in busy:
            self.busy[resource_id].append((to_minutes(start), to_minutes(end)))
        for intervals in self.busy.values():
            intervals.sort()
        by_resource = {e.resource_id: e for e in staff}
        for resource_id, start, end in busy:  # staff time already booked counts towards their utilization
            entry = by_resource.get(resource_id)
            if entry is not None:
                day = start.astimezone(zoneinfo.ZoneInfo(site_tz[entry.sites[0]])).date()
                self.load[(entry.staff_id, day)] += to_minutes(end) - to_minutes(start)
        # Closures and maintenance: checked apart from bookings, which may overlap them (bookings never overlap each other).
        self.blocked: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for resource_id, start, end in blocked:
            self.blocked[resource_id].append((to_minutes(start), to_minutes(end)))
        self.days_used: set[date] = set()
        self._shifts: dict[tuple[int, date], Shift | None] = {}
        self.eligible = {s.code: [e for e in staff if self._qualified(e, s)] for s in SERVICES}
        self.sites_for = {s.code: self._sites_offering(s) for s in SERVICES}

    @staticmethod
    def _qualified(entry: RosterEntry, service: Service) -> bool:
        return entry.role == service.role and (service.staff_specialty is None
                                               or service.staff_specialty in entry.specialties)

    def _sites_offering(self, service: Service) -> list[str]:
        sites = []
        for site in self.site_tz:
            if service.room_kind and not self.rooms.get((site, service.room_kind)):
                continue
            if any(not self.equipment.get((site, kind)) for kind in service.equipment):
                continue
            if any(site in e.sites for e in self.eligible[service.code]):
                sites.append(site)
        return sites

    def shift(self, entry: RosterEntry, day: date) -> Shift | None:
        key = (entry.staff_id, day)
        if key not in self._shifts:
            self._shifts[key] = shift_on(entry, day, self.site_tz)
        return self._shifts[key]

    def is_free(self, resource_id: int, start: int, end: int) -> bool:
        if any(s < end and start < e for s, e in self.blocked.get(resource_id, ())):
            return False
        intervals = self.busy.get(resource_id)
        if not intervals:
            return True
        i = bisect.bisect_left(intervals, (end,))  # intervals[:i] start before `end`; they never overlap each other
        return i == 0 or intervals[i - 1][1] <= start

    def hold(self, slot: Slot) -> None:
        for resource_id in slot.resource_ids:
            bisect.insort(self.busy[resource_id], (slot.start, slot.end))
        self.load[(slot.staff.staff_id, slot.day)] += slot.end - slot.start

    def release(self, slot: Slot) -> None:
        for resource_id in slot.resource_ids:
            self.busy[resource_id].remove((slot.start, slot.end))
        self.load[(slot.staff.staff_id, slot.day)] -= slot.end - slot.start

    def find(self, service: Service, site: str, days: list[date], rng, *, not_before: datetime,
             not_after: datetime, utilization: float = 0.8, latest_first: bool = False, hold: bool = True) -> Slot | None:
        """The first free slot on `days` (in that order) at `site`, between not_before and not_after, that keeps each
        staff member's booked time under `utilization` of their shift."""
        lo, hi = to_minutes(not_before), to_minutes(not_after)
        duration = service.minutes
        rooms = self.rooms.get((site, service.room_kind), []) if service.room_kind else [(None, None)]
        staff = list(self.eligible[service.code])
        rng.shuffle(staff)
        for day in days:
            for entry in staff:
                if service.credential and entry.credentials.get(service.credential, date.min) < day:
                    continue
                shift = self.shift(entry, day)
                if shift is None or shift.site != site:
                    continue
                used = self.load.get((entry.staff_id, day), 0)
                if used and used + duration > utilization * (shift.end - shift.start):
                    continue
                first = max(shift.start, lo + (-lo) % STEP)
                last = min(shift.end, hi) - duration
                if last < first:
                    continue
                starts = list(range(first, last + 1, STEP))
                offset = rng.randrange(len(starts))
                starts = starts[offset:] + starts[:offset]
                if latest_first:
                    starts.sort(reverse=True)
                for start in starts:
                    slot = self._try(service, site, entry, rooms, start, start + duration, day)
                    if slot is not None:
                        if hold:
                            self.hold(slot)
                        self.days_used.add(day)
                        return slot
        return None

    def _try(self, service, site, entry, rooms, start, end, day) -> Slot | None:
        if not self.is_free(entry.resource_id, start, end):
            return None
        for room_resource, room_id in rooms:
            if room_resource is not None and not self.is_free(room_resource, start, end):
                continue
            held = [entry.resource_id] + ([room_resource] if room_resource is not None else [])
            for kind in service.equipment:
                item = next((r for r, in_room in self.equipment.get((site, kind), [])
                             if in_room in (None, room_id) and self.is_free(r, start, end)), None)
                if item is None:
                    break
                held.append(item)
            else:
                return Slot(service, site, start, end, entry, tuple(held), day)
        return None


def days_around(target: date, first: date, last: date) -> list[date]:
    """Every day in [first, last], nearest to `target` first (earlier before later on ties)."""
    span = (last - first).days
    days = [first + timedelta(days=i) for i in range(span + 1)]
    return sorted(days, key=lambda d: (abs((d - target).days), d > target))
