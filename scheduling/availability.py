"""When each resource can be booked: templates and shifts, minus exceptions, time off and what is already booked.

All intervals are half-open [start, end) in UTC. Weekly templates are in the site's local time, so a template of
08:00-17:00 stays 08:00-17:00 local across a daylight-saving change.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import IntegerField, Value

from staffing.models import Shift, TimeOff

from .models import AvailabilityException, BookedResource, WeeklyAvailability

Interval = tuple[datetime, datetime]


def subtract(free: list[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """`free` minus `busy`; both sorted or not, result sorted and non-overlapping."""
    result = sorted(free)
    for b_start, b_end in sorted(busy):
        next_result = []
        for start, end in result:
            if b_end <= start or b_start >= end:
                next_result.append((start, end))
                continue
            if start < b_start:
                next_result.append((start, b_start))
            if b_end < end:
                next_result.append((b_end, end))
        result = next_result
    return result


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def local_datetime(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a date in a zone. fold=0 picks the first of a repeated hour; a skipped hour moves on."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def expand_weekly(rows: Iterable[WeeklyAvailability], tz: ZoneInfo, start: datetime, end: datetime) -> list[Interval]:
    by_weekday = defaultdict(list)
    for row in rows:
        by_weekday[row.weekday].append(row)
    intervals = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        for row in by_weekday.get(day.weekday(), ()):
            s = local_datetime(day, row.start_time, tz)
            # A window that runs to 23:59 runs to midnight, so it joins the next day's window (overnight studies).
            e = (local_datetime(day + timedelta(days=1), time(0), tz) if row.end_time >= time(23, 59)
                 else local_datetime(day, row.end_time, tz))
            if e > start and s < end:
                intervals.append((max(s, start), min(e, end)))
        day += timedelta(days=1)
    return merge(intervals)


SHIFT, TIME_OFF, EXCEPTION, BOOKED = 1, 2, 3, 4


def _in_window(kind: int, rows, owner: str, start: datetime, end: datetime):
    """(owner, start, end, kind) of the rows that overlap [start, end)."""
    return (rows.filter(start__lt=end, end__gt=start).annotate(window_kind=Value(kind, output_field=IntegerField()))
            .values_list(owner, "start", "end", "window_kind").order_by())


class FreeTime:
    """Free intervals per resource for one search window, loaded in two queries (free_time)."""

    def __init__(self, free: dict[int, list[Interval]], load: dict[tuple[int, date], int]):
        self.free = free
        self._starts = {rid: [s for s, _ in ivs] for rid, ivs in free.items()}
        self.load = load

    def is_free(self, resource_id: int, start: datetime, end: datetime) -> bool:
        intervals = self.free.get(resource_id)
        if not intervals:
            return False
        i = bisect_right(self._starts[resource_id], start) - 1
        return i >= 0 and intervals[i][0] <= start and end <= intervals[i][1]

    def load_on(self, resource_id: int, day: date) -> int:
        return self.load.get((resource_id, day), 0)


def free_time(
    *, site_tz: ZoneInfo, site_id: int, staff: dict[int, int], template_resources: list[int],
    start: datetime, end: datetime,
) -> FreeTime:
    """`staff` maps staff resource id -> StaffMember id (they are free during shifts at this site, minus time off);
    `template_resources` are rooms and equipment (free during weekly templates, minus exceptions). Everything minus
    active bookings."""
    windows: dict[int, list[Interval]] = defaultdict(list)
    blocked: dict[int, list[Interval]] = defaultdict(list)
    load: dict[tuple[int, date], int] = defaultdict(int)
    member_to_resource = {member_id: rid for rid, member_id in staff.items()}
    all_ids = list(staff) + list(template_resources)
    # Everything in the window in one statement (plain rows, a search reads a few hundred): shifts at this site, time
    # off, exceptions to the templates, and active bookings.
    windowed = _in_window(SHIFT, Shift.objects.filter(staff_id__in=member_to_resource, site_id=site_id), "staff_id",
                          start, end).union(
        _in_window(TIME_OFF, TimeOff.objects.filter(staff_id__in=member_to_resource), "staff_id", start, end),
        _in_window(EXCEPTION, AvailabilityException.objects.filter(resource_id__in=template_resources), "resource_id",
                   start, end),
        _in_window(BOOKED, BookedResource.objects.filter(resource_id__in=all_ids, active=True), "resource_id",
                   start, end),
        all=True)
    for owner, w_start, w_end, kind in windowed:
        if kind == SHIFT:
            windows[member_to_resource[owner]].append((max(w_start, start), min(w_end, end)))
        elif kind == TIME_OFF:
            blocked[member_to_resource[owner]].append((w_start, w_end))
        else:
            blocked[owner].append((w_start, w_end))
            if kind == BOOKED:
                load[(owner, w_start.astimezone(site_tz).date())] += 1

    rows = defaultdict(list)
    for row in WeeklyAvailability.objects.filter(resource_id__in=template_resources).values_list(
        "resource_id", "weekday", "start_time", "end_time", named=True
    ):
        rows[row.resource_id].append(row)
    for rid in template_resources:
        windows[rid] = expand_weekly(rows.get(rid, ()), site_tz, start, end)

    free = {rid: subtract(merge(windows.get(rid, [])), blocked.get(rid, [])) for rid in all_ids}
    return FreeTime(free, load)
