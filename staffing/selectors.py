"""Reads for staffing pages: the staff list, the roster week, coverage, overtime, credentials and labor cost."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from healthops.models import Site
from healthops.permissions import site_ids_for

from .demand import booked_demand, staff_booked_intervals
from .models import Credential, LaborCostPublication, Shift, Specialty, StaffingSettings, StaffMember, TimeOff


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


# ----------------------------------------------------------------------------------------------------------------
# Weeks, work time and the roster board
# ----------------------------------------------------------------------------------------------------------------

Interval = tuple[datetime, datetime]


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _day_bounds(day: date, tz) -> Interval:
    return (datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC))


def _merge(intervals) -> list[Interval]:
    merged: list[Interval] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _minutes(intervals) -> int:
    return int(sum((e - s).total_seconds() for s, e in _merge(intervals)) // 60)


def _overlap_minutes(a: list[Interval], b: list[Interval]) -> int:
    total = 0.0
    for s1, e1 in _merge(a):
        for s2, e2 in _merge(b):
            lo, hi = max(s1, s2), min(e1, e2)
            if hi > lo:
                total += (hi - lo).total_seconds()
    return int(total // 60)


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"))


@dataclass
class RosterCell:
    day: date
    shifts: list[dict] = field(default_factory=list)  # {"label", "site", "department", "flag"}


@dataclass
class RosterRow:
    member: StaffMember
    cells: list[RosterCell]
    shift_minutes: int = 0
    booked_minutes: int = 0  # booked time inside shifts
    extra_minutes: int = 0  # booked time outside any shift (counts as work, too)
    threshold: Decimal = Decimal(40)
    rest_violations: list[str] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)

    @property
    def shift_hours(self) -> Decimal:
        return _hours(self.shift_minutes)

    @property
    def extra_hours(self) -> Decimal:
        return _hours(self.extra_minutes)

    @property
    def projected_hours(self) -> Decimal:
        return _hours(self.shift_minutes + self.extra_minutes)

    @property
    def overtime(self) -> bool:
        return self.projected_hours > self.threshold

    @property
    def near_threshold(self) -> bool:
        return not self.overtime and self.projected_hours >= self.threshold * Decimal("0.9")

    @property
    def utilization(self) -> int | None:
        """Booked minutes over rostered minutes, in percent."""
        return round(100 * self.booked_minutes / self.shift_minutes) if self.shift_minutes else None


@dataclass
class RosterWeek:
    week_start: date
    days: list[date]
    rows: list[RosterRow]
    threshold: Decimal
    min_rest_hours: Decimal

    @property
    def prev_week(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.week_start + timedelta(days=7)

    @property
    def totals(self) -> dict:
        shift = sum(r.shift_minutes for r in self.rows)
        booked = sum(r.booked_minutes for r in self.rows)
        return {"hours": _hours(shift), "booked_hours": _hours(booked),
                "utilization": round(100 * booked / shift) if shift else None,
                "overtime": sum(r.overtime for r in self.rows),
                "rest": sum(bool(r.rest_violations) for r in self.rows)}


def roster_week(*, site_ids: set[int] | None, week_start: date, role: str = "",
                staff_ids: list[int] | None = None) -> RosterWeek:
    """Staff rostered at these sites (None: anywhere) in the week, with all their shifts that week (at any site),
    projected hours (shifts plus time booked outside shifts) against the threshold, rest-rule breaches and overlaps.
    A fixed number of queries whatever the number of staff."""
    config = StaffingSettings.current()
    week_start = monday(week_start)
    days = [week_start + timedelta(days=i) for i in range(7)]
    # Wide enough for any time zone, plus the shifts just before the week for the rest rule.
    window = (datetime.combine(week_start - timedelta(days=2), time(0), tzinfo=UTC),
              datetime.combine(week_start + timedelta(days=9), time(0), tzinfo=UTC))
    if staff_ids is None:
        rostered = Shift.objects.filter(start__lt=window[1], end__gt=window[0])
        if site_ids is not None:
            rostered = rostered.filter(site_id__in=site_ids)
        staff_ids = rostered.values("staff_id")
    members = StaffMember.objects.filter(pk__in=staff_ids).order_by("family_name", "given_name", "pk")
    if role:
        members = members.filter(role=role)
    members = list(members)
    shifts = defaultdict(list)
    for s in (Shift.objects.filter(staff__in=[m.pk for m in members], start__lt=window[1], end__gt=window[0])
              .select_related("site", "department").order_by("start")):
        shifts[s.staff_id].append(s)
    tz_of = {pk: ZoneInfo(tz) for pk, tz in Site.objects.values_list("pk", "time_zone")}
    booked = staff_booked_intervals(resource_ids=[m.resource_id for m in members], start=window[0], end=window[1])
    min_rest = timedelta(hours=float(config.min_rest_hours))
    rows = []
    for m in members:
        row = RosterRow(m, [RosterCell(d) for d in days], threshold=config.weekly_hours_threshold)
        mine = shifts.get(m.pk, [])
        in_week, shown = [], {}
        for s in mine:
            local = s.start.astimezone(s.site.tz)
            if week_start <= local.date() <= days[-1]:
                in_week.append((s.start, s.end))
                shown[s.pk] = {"label": f"{local:%H:%M}–{s.end.astimezone(s.site.tz):%H:%M}", "site": s.site.code,
                               "department": s.department.name if s.department else "", "flag": ""}
                row.cells[(local.date() - week_start).days].shifts.append(shown[s.pk])
        for a, b in zip(mine, mine[1:], strict=False):
            if b.pk not in shown:
                continue
            gap, local_b = b.start - a.end, b.start.astimezone(b.site.tz)
            label = f"{local_b:%a} {local_b:%H:%M}"
            if gap < timedelta(0):
                row.overlaps.append(f"{label} overlaps the shift ending {a.end.astimezone(a.site.tz):%a %H:%M}")
                shown[b.pk]["flag"] = "overlap"
            elif gap < min_rest:
                row.rest_violations.append(f"only {_hours(int(gap.total_seconds() // 60))} h rest before {label}")
                shown[b.pk]["flag"] = "rest"
        row.shift_minutes = _minutes(in_week)
        week_booked = [(s, e) for s, e, site_id in booked.get(m.resource_id, [])
                       if week_start <= s.astimezone(tz_of[site_id]).date() <= days[-1]]
        row.booked_minutes = _overlap_minutes(week_booked, in_week)
        row.extra_minutes = _minutes(week_booked) - row.booked_minutes
        rows.append(row)
    return RosterWeek(week_start, days, rows, config.weekly_hours_threshold, config.min_rest_hours)


def overtime_list(*, site_ids: set[int] | None, week_start: date) -> RosterWeek:
    """The roster week narrowed to staff over (or within 10% of) the weekly threshold or breaking the rest rule."""
    week = roster_week(site_ids=site_ids, week_start=week_start)
    week.rows = sorted([r for r in week.rows if r.overtime or r.near_threshold or r.rest_violations or r.overlaps],
                       key=lambda r: (-r.projected_hours, r.member.family_name))
    return week


# ----------------------------------------------------------------------------------------------------------------
# Coverage: booked and expected demand against rostered capacity, per site, day and role
# ----------------------------------------------------------------------------------------------------------------

HISTORY_WEEKS = 4  # expected demand: the average of the same weekday over this many weeks before the current one
ROLE_LABELS = dict(StaffMember.Role.choices)


@dataclass
class CoverageLine:
    role: str
    specialty: str = ""  # a line for staff of one specialty, under its role's line
    booked: int = 0
    expected: int = 0
    capacity: int = 0

    @property
    def label(self) -> str:
        return f"{ROLE_LABELS.get(self.role, self.role)}" + (f" · {self.specialty}" if self.specialty else "")

    @property
    def demand(self) -> int:
        return self.booked + self.expected

    @property
    def balance(self) -> int:
        """Capacity minus demand: negative is a gap, positive a surplus (minutes)."""
        return self.capacity - self.demand

    @property
    def shortfall(self) -> int:
        return max(0, self.demand - self.capacity)


@dataclass
class CoverageCell:
    site: Site
    day: date
    lines: list[CoverageLine] = field(default_factory=list)

    def _roles(self):
        return [line for line in self.lines if not line.specialty]

    @property
    def booked(self) -> int:
        return sum(line.booked for line in self._roles())

    @property
    def expected(self) -> int:
        return sum(line.expected for line in self._roles())

    @property
    def demand(self) -> int:
        return self.booked + self.expected

    @property
    def capacity(self) -> int:
        return sum(line.capacity for line in self._roles())

    @property
    def gap(self) -> int:
        """Minutes of demand no rostered staff member of the right role (or specialty) can cover."""
        return sum(max(0, -line.balance) for line in self.lines)

    @property
    def surplus(self) -> int:
        return sum(max(0, line.balance) for line in self._roles())

    @property
    def state(self) -> str:
        if self.gap:
            return "gap"
        if not self.capacity:
            return "none"
        ratio = self.demand / self.capacity
        return "tight" if ratio >= 0.85 else "balanced" if ratio >= 0.4 else "surplus"

    @property
    def load(self) -> int | None:
        return round(100 * self.demand / self.capacity) if self.capacity else None


@dataclass
class Coverage:
    week_start: date
    days: list[date]
    rows: list[tuple[Site, list[CoverageCell]]]

    @property
    def prev_week(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.week_start + timedelta(days=7)


def coverage_week(*, site_ids: set[int] | None, week_start: date, today: date | None = None) -> Coverage:
    """Per site and local day of the week: for each staff role, minutes booked, minutes expected (from today on:
    the average booked on that weekday over the last HISTORY_WEEKS weeks, less what is already booked, never below
    zero) and minutes rostered. Specialty lines compare demand that needs a specialty with staff who have it."""
    today = today or timezone.localdate()
    week_start = monday(week_start)
    days = [week_start + timedelta(days=i) for i in range(7)]
    sites = Site.objects.filter(active=True).order_by("name")
    if site_ids is not None:
        sites = sites.filter(pk__in=site_ids)
    sites = list(sites)
    by_pk = {s.pk: s for s in sites}
    window = (datetime.combine(week_start - timedelta(days=1), time(0), tzinfo=UTC),
              datetime.combine(week_start + timedelta(days=8), time(0), tzinfo=UTC))
    specialty_names = dict(Specialty.objects.values_list("pk", "name"))

    capacity: dict = defaultdict(int)  # (site, day, role, specialty name) -> minutes
    for s in (Shift.objects.filter(site__in=sites, start__lt=window[1], end__gt=window[0])
              .select_related("staff").prefetch_related("staff__specialties")):
        site = by_pk[s.site_id]
        for day in days:
            lo, hi = _day_bounds(day, site.tz)
            minutes = int(max(0, (min(s.end, hi) - max(s.start, lo)).total_seconds()) // 60)
            if minutes:
                capacity[(site.pk, day, s.staff.role, "")] += minutes
                for sp in s.staff.specialties.all():
                    capacity[(site.pk, day, s.staff.role, sp.name)] += minutes

    booked: dict = defaultdict(int)
    for d in booked_demand(site_ids=list(by_pk), start=window[0], end=window[1]):
        day = d.start.astimezone(by_pk[d.site_id].tz).date()
        if week_start <= day <= days[-1]:
            booked[(d.site_id, day, d.role, "")] += d.minutes
            if d.specialty_id:
                booked[(d.site_id, day, d.role, specialty_names.get(d.specialty_id, ""))] += d.minutes

    typical: dict = defaultdict(int)  # (site, weekday, role) -> minutes over HISTORY_WEEKS weeks
    history_end = datetime.combine(monday(today), time(0), tzinfo=UTC)
    if days[-1] >= today:
        for d in booked_demand(site_ids=list(by_pk), start=history_end - timedelta(weeks=HISTORY_WEEKS),
                               end=history_end):
            typical[(d.site_id, d.start.astimezone(by_pk[d.site_id].tz).weekday(), d.role)] += d.minutes

    keys = set(capacity) | set(booked) | {(site, day, role, "") for site in by_pk for day in days
                                          for (s, wd, role) in typical if s == site and wd == day.weekday()}
    lines: dict = defaultdict(list)
    for site_pk, day, role, specialty in sorted(keys, key=lambda k: (k[0], k[1], k[2], k[3])):
        line = CoverageLine(role, specialty, booked=booked.get((site_pk, day, role, specialty), 0),
                            capacity=capacity.get((site_pk, day, role, specialty), 0))
        if not specialty and day >= today:
            line.expected = max(0, typical.get((site_pk, day.weekday(), role), 0) // HISTORY_WEEKS - line.booked)
        if specialty and not line.booked:
            continue  # a specialty line only matters where demand needs that specialty
        lines[(site_pk, day)].append(line)
    rows = [(site, [CoverageCell(site, day, lines.get((site.pk, day), [])) for day in days]) for site in sites]
    return Coverage(week_start, days, rows)


@dataclass
class AvailableStaff:
    member: StaffMember
    on_shift: bool
    free_minutes: int  # on shift: shift time not yet booked
    week_hours: Decimal
    over_threshold: bool


def coverage_cell(*, site: Site, day: date, today: date | None = None) -> tuple[CoverageCell, dict[str, list]]:
    """One site-day's lines, and per role with demand the staff who could help: active staff of that role working at
    the site, not off that day, holding every credential that day's bookings of that role need, valid that day."""
    cell = next(c for c in coverage_week(site_ids={site.pk}, week_start=day, today=today).rows[0][1] if c.day == day)
    lo, hi = _day_bounds(day, site.tz)
    demand = [d for d in booked_demand(site_ids=[site.pk], start=lo, end=hi)]
    roles = {line.role for line in cell.lines if line.demand}
    needed = defaultdict(set)
    for d in demand:
        if d.credential_kind_id:
            needed[d.role].add(d.credential_kind_id)
    off = set(TimeOff.objects.filter(start__lt=hi, end__gt=lo).values_list("staff_id", flat=True))
    candidates = [m for m in StaffMember.objects.filter(active=True, role__in=roles, sites=site)
                  .exclude(pk__in=off).prefetch_related("credentials").order_by("family_name", "given_name")
                  if all(any(c.kind_id == k and c.expires_on >= day for c in m.credentials.all())
                         for k in needed[m.role])]
    shifts = defaultdict(list)
    for s in Shift.objects.filter(staff__in=candidates, site=site, start__lt=hi, end__gt=lo):
        shifts[s.staff_id].append((max(s.start, lo), min(s.end, hi)))
    booked = staff_booked_intervals(resource_ids=[m.resource_id for m in candidates], start=lo, end=hi)
    week = {r.member.pk: r for r in roster_week(site_ids=None, week_start=day, staff_ids=[m.pk for m in candidates]).rows}
    out = defaultdict(list)
    for m in candidates:
        mine = shifts.get(m.pk, [])
        busy = [(max(s, lo), min(e, hi)) for s, e, _ in booked.get(m.resource_id, [])]
        row = week.get(m.pk)
        out[m.role].append(AvailableStaff(m, bool(mine), _minutes(mine) - _overlap_minutes(busy, mine),
                                          row.projected_hours if row else Decimal(0), bool(row and row.overtime)))
    for role in out:  # on shift with free time first, then who could be called in
        out[role].sort(key=lambda a: (not a.on_shift, -a.free_minutes, a.week_hours))
    return cell, {ROLE_LABELS.get(r, r): out.get(r, []) for r in sorted(roles)}


# ----------------------------------------------------------------------------------------------------------------
# Credentials and labor cost
# ----------------------------------------------------------------------------------------------------------------

def credentials_expiring(*, user, within_days: int, today: date | None = None) -> list[Credential]:
    """Credentials of active staff the user can see that have expired or expire within `within_days`, soonest first,
    each with `bookings_after_expiry`: upcoming bookings of that staff member on or after the expiry date."""
    today = today or timezone.localdate()
    creds = list(Credential.objects.filter(staff__in=staff_visible_to(user).filter(active=True).values("pk"),
                                           expires_on__lte=today + timedelta(days=within_days))
                 .select_related("staff", "kind").order_by("expires_on", "staff__family_name", "pk"))
    start = datetime.combine(today, time(0), tzinfo=UTC)
    booked = staff_booked_intervals(resource_ids={c.staff.resource_id for c in creds}, start=start,
                                    end=start + timedelta(days=366))
    for c in creds:
        c.days_left = (c.expires_on - today).days
        c.bookings_after_expiry = sum(1 for s, _, _ in booked.get(c.staff.resource_id, []) if s.date() > c.expires_on)
    return creds


@dataclass(frozen=True)
class LaborCost:
    cost_centre: str
    hours: Decimal
    amount: Decimal
    shifts: int


def labor_cost_week(*, week_start: date) -> dict[str, LaborCost]:
    """Per cost centre: rostered hours x hourly cost for shifts starting in the week (site-local dates). A shift is
    charged to its department's cost centre, else to the staff member's own."""
    week_start = monday(week_start)
    window = (datetime.combine(week_start - timedelta(days=1), time(0), tzinfo=UTC),
              datetime.combine(week_start + timedelta(days=8), time(0), tzinfo=UTC))
    minutes, cost, count = defaultdict(int), defaultdict(Decimal), defaultdict(int)
    for s in Shift.objects.filter(start__gte=window[0], start__lt=window[1]).select_related("staff", "site", "department"):
        if not week_start <= s.start.astimezone(s.site.tz).date() <= week_start + timedelta(days=6):
            continue
        centre = (s.department.cost_centre if s.department else "") or s.staff.cost_centre
        m = int((s.end - s.start).total_seconds() // 60)
        minutes[centre] += m
        cost[centre] += Decimal(m) * s.staff.hourly_cost / 60
        count[centre] += 1
    cents = Decimal("0.01")
    return {c: LaborCost(c, (Decimal(minutes[c]) / 60).quantize(cents, ROUND_HALF_UP),
                         cost[c].quantize(cents, ROUND_HALF_UP), count[c]) for c in sorted(minutes)}


@dataclass
class LaborCostLine:
    figure: LaborCost
    published: LaborCostPublication | None

    @property
    def in_step(self) -> bool:
        """The ERP has these exact figures."""
        p = self.published
        return bool(p) and (p.hours, p.amount, p.shift_count) == (self.figure.hours, self.figure.amount,
                                                                   self.figure.shifts)


def labor_cost_summary(*, week_start: date) -> list[LaborCostLine]:
    """This week's figures per cost centre beside the latest revision sent to the ERP."""
    latest = {p.cost_centre: p for p in LaborCostPublication.objects.filter(week_start=monday(week_start))
              .order_by("revision")}
    figures = labor_cost_week(week_start=week_start)
    for centre in set(latest) - set(figures):
        figures[centre] = LaborCost(centre, Decimal("0.00"), Decimal("0.00"), 0)
    return [LaborCostLine(figures[c], latest.get(c)) for c in sorted(figures)]
