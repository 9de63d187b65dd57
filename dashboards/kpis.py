"""The KPI definitions: one place that says what each dashboard number means and computes it in SQL.

Case KPIs read the rollup (dashboards.models, folded from the event log by facts.py); queue, authorization,
appointment, utilization and staffing KPIs read the domain tables directly (they are current state, and indexed).
Percentiles use PostgreSQL's percentile_cont; on SQLite the same interpolation runs in Python over the values.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Avg, Count, DurationField, ExpressionWrapper, F, FloatField, Min, Q, Sum
from django.db.models.functions import TruncDate

from authorizations.models import Authorization
from referrals.models import Referral
from scheduling.models import Appointment, BookedResource, WeeklyAvailability
from staffing.models import Shift, StaffingSettings

from .models import AccessSnapshot, ReferralFacts, StageVisit, TaskFact

HOUR = 3600.0
OVERTIME_RISK_SHARE = 0.9  # at risk: 90% of the weekly threshold already on the roster (as staffing's lists say)
QUEUE_LABELS = {
    "triage": "Intake triage", "patient_match": "Patient match", "outreach": "Document outreach",
    "verify_eligibility": "Verify eligibility", "auth_determination": "Authorization determination",
    "auth_follow_up": "Authorization follow-up", "denial": "Denial / appeal", "schedule": "Scheduling",
    "notify_by_phone": "Notify by phone",
}
STAGE_ORDER = [s for s, _ in Referral.Stage.choices]
STAGE_LABELS = dict(Referral.Stage.choices)


@dataclass(frozen=True)
class KPI:
    key: str
    label: str
    unit: str
    definition: str
    period: str  # how the date range selects what is counted
    source: str


DEFINITIONS = [
    KPI("cycle_p50", "Referral-to-schedule cycle time, median", "hours",
        "Time from the referral.received event to the referral's first booking (the first referral.booked or "
        "referral.appointment-linked event), 50th percentile (percentile_cont).",
        "Referrals first booked in the period.", "rollup (event log)"),
    KPI("cycle_p90", "Referral-to-schedule cycle time, 90th percentile", "hours",
        "As the median, 90th percentile: the slow tail.", "Referrals first booked in the period.", "rollup (event log)"),
    KPI("worked_share", "Being worked vs waiting", "% of cycle",
        "Of each cycle, the time during which at least one human task of the referral was open (task.created to "
        "its task.completed) is 'being worked'; the rest is 'waiting' (automated steps, the payer, the referrer). "
        "Shown as the average hours of each and the share worked.",
        "Referrals first booked in the period.", "rollup (event log)"),
    KPI("straight_through", "Straight-through rate", "%",
        "Booked referrals that never needed a person: zero task.created events, divided by all booked referrals.",
        "Referrals first booked in the period.", "rollup (event log)"),
    KPI("touches", "Manual touches per case", "touches",
        "Per booked referral: task.completed events with data.manual true, plus task.assigned, plus "
        "override.recorded on the referral; averaged.", "Referrals first booked in the period.", "rollup (event log)"),
    KPI("exception_rate", "Exception volume and rate by reason", "per 100 referrals",
        "An exception is a human task the flow created (task.created / work item); its reason is its queue "
        "(task type). Rate = exceptions created in the period per 100 referrals received in the period.",
        "Tasks created and referrals received in the period.", "rollup (event log)"),
    KPI("backlog", "Queue age and backlog per queue", "tasks, hours",
        "Open human tasks (not completed) per queue, their average and oldest age (now minus created), and how "
        "many are past their SLA due time (data.due_at, moved by holds), from the task.* events.",
        "A snapshot: now (as of the last refresh, at most a minute old), whatever the date range.", "rollup (event log)"),
    KPI("auth_breach", "Authorization turnaround and clock breaches", "hours, %",
        "Per payer and urgency: prior authorizations submitted in the period; decision time = decided_at minus "
        "submitted_at (median, 90th percentile); a breach is a decision after due_at (72 h expedited, 7 calendar "
        "days standard) or, undecided, due_at already past.", "Authorizations submitted in the period.",
        "authorizations"),
    KPI("appointment_rates", "Reschedule, cancellation and no-show rates", "%",
        "Of appointments starting in the period (excluding entered-in-error): rescheduled = moved to another "
        "slot (appointment.rescheduled); cancelled = cancelled and not rescheduled; no-show = status noshow.",
        "Appointments starting in the period.", "appointments"),
    KPI("utilization", "Utilization of staff, rooms and equipment by site", "%",
        "Booked hours (held resources of active bookings) divided by available hours: staff = rostered shift "
        "hours at the site; rooms and equipment = their weekly opening hours over the period's days.",
        "Bookings and shifts starting in the period (site filter only).", "bookings, shifts, availability"),
    KPI("tna", "Third-next-available by service and site", "days",
        "Days from now to the third free slot for the service at the site (the standard access measure), from "
        "the slot search; recomputed by the refresh job every 15 minutes.", "A snapshot: now.", "slot search"),
    KPI("overtime", "Staff at overtime risk", "staff",
        f"Staff whose rostered shift hours in the current week (Monday to Sunday) reach {OVERTIME_RISK_SHARE:.0%} of "
        "the weekly threshold set in the rule console (Staffing settings; overtime past the threshold itself).",
        "A snapshot: the current week.", "shifts"),
    KPI("bottleneck", "Where cases wait longest (stage x site)", "hours",
        "Each stay of a referral in a stage, from the stage event that entered it to the one that left it; median "
        "hours per stage and site. The process map counts stage-to-stage transitions and their median wait.",
        "Stage stays that ended in the period.", "rollup (event log)"),
]
DEFINITIONS_BY_KEY = {k.key: k for k in DEFINITIONS}


@dataclass(frozen=True)
class Filters:
    since: datetime
    until: datetime
    sites: frozenset | None = None  # None: every site (network-wide and no site chosen)
    department: int | None = None
    service_type: int | None = None
    payer: int | None = None

    def previous(self) -> "Filters":
        span = self.until - self.since
        return replace(self, since=self.since - span, until=self.since)

    def key(self) -> str:
        sites = ",".join(map(str, sorted(self.sites))) if self.sites is not None else "*"
        return (f"{self.since.isoformat()}|{self.until.isoformat()}|{sites}|{self.department}|{self.service_type}|"
                f"{self.payer}")


def dims(f: Filters, prefix: str = "", payer_path: str = "coverage__payer_id") -> Q:
    """The site/department/service/payer filters as a Q over a referral reached by `prefix`."""
    q = Q()
    if f.sites is not None:
        q &= Q(**{f"{prefix}site_id__in": f.sites})
    if f.department:
        q &= Q(**{f"{prefix}department_id": f.department})
    if f.service_type:
        q &= Q(**{f"{prefix}service_type_id": f.service_type})
    if f.payer:
        q &= Q(**{f"{prefix}{payer_path}": f.payer})
    return q


# --- percentiles ------------------------------------------------------------------------------------------------

class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate percentile_cont(p) WITHIN GROUP (ORDER BY expr)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(values: list[float], p: float) -> float | None:
    """percentile_cont in Python: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def postgres() -> bool:
    return connection.vendor == "postgresql"


def grouped_percentiles(qs, group: list[str], expr, fractions: dict[str, float], extra: dict | None = None) -> list[dict]:
    """Per group: the percentiles of `expr` (a field name or expression giving seconds) plus `extra` aggregates."""
    extra = extra or {}
    if not group:
        if postgres():
            return [qs.aggregate(**{k: PercentileCont(expr, p) for k, p in fractions.items()}, **extra)]
        row = qs.aggregate(**extra) if extra else {}
        values = [v for v in qs.annotate(_v=F(expr) if isinstance(expr, str) else expr).values_list("_v", flat=True)
                  if v is not None]
        return [{**row, **{k: percentile(values, p) for k, p in fractions.items()}}]
    if postgres():
        return list(qs.values(*group).annotate(**{k: PercentileCont(expr, p) for k, p in fractions.items()}, **extra)
                    .order_by(*group))
    rows = {tuple(r[g] for g in group): r for r in qs.values(*group).annotate(**extra).order_by(*group)} if extra \
        else {}
    values = defaultdict(list)
    for r in qs.annotate(_v=expr if not isinstance(expr, str) else F(expr)).values(*group, "_v"):
        if r["_v"] is not None:
            values[tuple(r[g] for g in group)].append(r["_v"])
    keys = list(rows) if extra else sorted(values, key=lambda k: tuple("" if v is None else v for v in k))
    out = []
    for k in keys:
        row = rows.get(k) or dict(zip(group, k, strict=True))
        row.update({name: percentile(values.get(k, []), p) for name, p in fractions.items()})
        out.append(row)
    return out


def hours(seconds) -> float | None:
    if seconds is None:
        return None
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    return round(seconds / HOUR, 1)


def pct(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- case KPIs (rollup) -----------------------------------------------------------------------------------------

def facts(f: Filters):
    return ReferralFacts.objects.filter(dims(f, payer_path="payer_id"))


def booked_cases(f: Filters):
    return facts(f).filter(booked_at__gte=f.since, booked_at__lt=f.until)


def received_cases(f: Filters):
    return facts(f).filter(received_at__gte=f.since, received_at__lt=f.until)


def case_kpis(f: Filters) -> dict:
    """Cycle time, its breakdown, straight-through rate and touches per case, over referrals booked in the period."""
    booked = booked_cases(f)
    agg = booked.aggregate(n=Count("pk"), worked=Avg("worked_seconds"), waiting=Avg("waiting_seconds"),
                           straight=Count("pk", filter=Q(tasks_created=0)), touches=Sum("manual_touches"))
    p = grouped_percentiles(booked, [], "cycle_seconds", {"p50": 0.5, "p90": 0.9})
    p = p[0] if p else {"p50": None, "p90": None}
    n = agg["n"]
    worked, waiting = agg["worked"] or 0, agg["waiting"] or 0
    return {
        "booked": n,
        "cycle_p50_hours": hours(p["p50"]), "cycle_p90_hours": hours(p["p90"]),
        "worked_hours": hours(agg["worked"]), "waiting_hours": hours(agg["waiting"]),
        "worked_share_pct": pct(worked, worked + waiting) if n else None,
        "straight_through_pct": pct(agg["straight"], n), "straight_through": agg["straight"],
        "touches_per_case": round((agg["touches"] or 0) / n, 2) if n else None,
        "received": received_cases(f).count(),
    }


def bucket_days(f: Filters) -> int:
    span = (f.until - f.since).days
    return 1 if span <= 31 else 7


def cycle_trend(f: Filters) -> list[dict]:
    """Median cycle time and bookings per day (periods up to 31 days) or per week (longer)."""
    step = bucket_days(f)
    rows = grouped_percentiles(booked_cases(f).annotate(day=TruncDate("booked_at")), ["day"], "cycle_seconds",
                               {"p50": 0.5}, {"n": Count("pk")})
    buckets: dict[date, list] = {}
    start = f.since.date()
    for r in rows:
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
        key = start + timedelta(days=((day - start).days // step) * step)
        buckets.setdefault(key, []).append(r)
    out = []
    for key in sorted(buckets):
        group = buckets[key]
        if len(group) == 1:
            p50 = group[0]["p50"]
        else:  # weekly: the median over the week's cases, not a median of daily medians
            end = key + timedelta(days=step)
            sub = replace(f, since=datetime.combine(key, datetime.min.time(), f.since.tzinfo),
                          until=min(f.until, datetime.combine(end, datetime.min.time(), f.since.tzinfo)))
            p50 = grouped_percentiles(booked_cases(sub), [], "cycle_seconds", {"p50": 0.5})[0]["p50"]
        out.append({"start": key.isoformat(), "booked": sum(r["n"] for r in group), "p50_hours": hours(p50)})
    return out


# --- queues and exceptions (rollup of task.* events) --------------------------------------------------------------

def tasks(f: Filters):
    """Human tasks of referrals within the filters (site from the rollup; the rest through the referral)."""
    q = Q(site_id__in=f.sites) if f.sites is not None else Q()
    return TaskFact.objects.filter(q & dims(replace(f, sites=None), "referral__"))


def exceptions(f: Filters) -> list[dict]:
    received = received_cases(f).count()
    rows = (tasks(f).filter(created_at__gte=f.since, created_at__lt=f.until)
            .values("task_type").annotate(n=Count("pk")).order_by("-n", "task_type"))
    return [{"reason": r["task_type"], "label": QUEUE_LABELS.get(r["task_type"], r["task_type"]), "count": r["n"],
             "per_100_referrals": round(100.0 * r["n"] / received, 1) if received else None} for r in rows]


def backlog(f: Filters, now: datetime) -> list[dict]:
    rows = (tasks(f).filter(completed_at__isnull=True)
            .values("task_type").annotate(n=Count("pk"), oldest=Min("created_at"),
                                          overdue=Count("pk", filter=Q(due_at__lt=now, on_hold=False)),
                                          held=Count("pk", filter=Q(on_hold=True)))
            .order_by("-n", "task_type"))
    ages = {r["task_type"]: r["avg"] for r in _avg_age(f, now)}
    return [{"queue": r["task_type"], "label": QUEUE_LABELS.get(r["task_type"], r["task_type"]), "open": r["n"],
             "overdue": r["overdue"], "on_hold": r["held"], "avg_age_hours": hours(ages.get(r["task_type"])),
             "oldest_age_hours": hours((now - r["oldest"]).total_seconds())} for r in rows]


def _avg_age(f: Filters, now: datetime) -> list[dict]:
    # avg(now - created_at) = now - avg(created_at); averaging timestamps is not portable, so average epochs.
    sums = defaultdict(lambda: [0.0, 0])
    for task_type, created in tasks(f).filter(completed_at__isnull=True).values_list("task_type", "created_at"):
        sums[task_type][0] += (now - created).total_seconds()
        sums[task_type][1] += 1
    return [{"task_type": k, "avg": s / n} for k, (s, n) in sums.items()]


# --- payer clocks -------------------------------------------------------------------------------------------------

def authorizations(f: Filters):
    q = Q(submitted_at__isnull=False, submitted_at__gte=f.since, submitted_at__lt=f.until)
    if f.payer:
        q &= Q(coverage__payer_id=f.payer)
    if f.service_type:
        q &= Q(service_type_id=f.service_type)
    if f.sites is not None:
        q &= Q(referral_link__referral__site_id__in=f.sites)
    if f.department:
        q &= Q(referral_link__referral__department_id=f.department)
    return Authorization.objects.filter(q)


def breached(now: datetime) -> Q:
    return Q(decided_at__gt=F("due_at")) | Q(decided_at__isnull=True, due_at__lt=now)


def decision_seconds():
    return ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField())


def payer_clocks(f: Filters, now: datetime) -> list[dict]:
    extra = {"n": Count("pk"), "breached": Count("pk", filter=breached(now)),
             "approved": Count("pk", filter=Q(status__in=["approved", "partial"])),
             "denied": Count("pk", filter=Q(status="denied")), "undecided": Count("pk", filter=Q(decided_at__isnull=True))}
    qs = authorizations(f)
    if postgres():
        rows = list(qs.values("coverage__payer_id", "coverage__payer__name", "urgency")
                    .annotate(p50=PercentileCont(decision_seconds(), 0.5, output_field=DurationField()),
                              p90=PercentileCont(decision_seconds(), 0.9, output_field=DurationField()), **extra)
                    .order_by("coverage__payer__name", "urgency"))
    else:
        rows = grouped_percentiles(qs.filter(decided_at__isnull=False), ["coverage__payer_id", "urgency"],
                                   decision_seconds(), {"p50": 0.5, "p90": 0.9})
        found = {(r["coverage__payer_id"], r["urgency"]): r for r in rows}
        rows = []
        for r in (qs.values("coverage__payer_id", "coverage__payer__name", "urgency").annotate(**extra)
                  .order_by("coverage__payer__name", "urgency")):
            r.update({k: found.get((r["coverage__payer_id"], r["urgency"]), {}).get(k) for k in ("p50", "p90")})
            rows.append(r)
    clock = {"standard": 168, "expedited": 72}
    return [{"payer_id": r["coverage__payer_id"], "payer": r["coverage__payer__name"], "urgency": r["urgency"],
             "clock_hours": clock.get(r["urgency"]), "count": r["n"], "p50_hours": hours(r["p50"]),
             "p90_hours": hours(r["p90"]), "breached": r["breached"], "breached_pct": pct(r["breached"], r["n"]),
             "approved_pct": pct(r["approved"], r["n"]), "denied_pct": pct(r["denied"], r["n"]),
             "undecided": r["undecided"]} for r in rows]


# --- appointments, utilization, access, staffing ------------------------------------------------------------------

def appointments(f: Filters):
    q = Q(start__gte=f.since, start__lt=f.until) & ~Q(status=Appointment.Status.ENTERED_IN_ERROR)
    if f.sites is not None:
        q &= Q(site_id__in=f.sites)
    if f.service_type:
        q &= Q(service_type_id=f.service_type)
    if f.department:
        q &= Q(referral_link__referral__department_id=f.department)
    if f.payer:
        q &= Q(referral_link__referral__coverage__payer_id=f.payer)
    return Appointment.objects.filter(q)


APPOINTMENT_OUTCOMES = {
    "rescheduled": Q(rescheduled_to__isnull=False),
    "cancelled": Q(status=Appointment.Status.CANCELLED, rescheduled_to__isnull=True),
    "noshow": Q(status=Appointment.Status.NOSHOW),
}


def appointment_rates(f: Filters) -> dict:
    agg = appointments(f).aggregate(n=Count("pk"), **{k: Count("pk", filter=q) for k, q in APPOINTMENT_OUTCOMES.items()})
    n = agg["n"]
    return {"appointments": n, **{k: agg[k] for k in APPOINTMENT_OUTCOMES},
            **{f"{k}_pct": pct(agg[k], n) for k in APPOINTMENT_OUTCOMES}}


def _weekday_counts(since: datetime, until: datetime) -> dict[int, int]:
    counts = defaultdict(int)
    day = since.date()
    while day < until.date() or (day == until.date() and until.time() > datetime.min.time()):
        counts[day.weekday()] += 1
        day += timedelta(days=1)
    return counts


def _duration_sum(qs, group: list[str]) -> dict[tuple, float]:
    length = ExpressionWrapper(F("end") - F("start"), output_field=DurationField())
    out = {}
    for r in qs.values(*group).annotate(total=Sum(length)).order_by():
        total = r["total"]
        out[tuple(r[g] for g in group)] = total.total_seconds() if isinstance(total, timedelta) else (total or 0) / 1e6
    return out


def utilization(f: Filters) -> list[dict]:
    """Per site and kind of resource: booked hours / available hours in the period."""
    from healthops.models import Site

    sites = Site.objects.filter(active=True) if f.sites is None else Site.objects.filter(pk__in=f.sites)
    names = dict(sites.values_list("pk", "name"))
    held = BookedResource.objects.filter(active=True, start__gte=f.since, start__lt=f.until,
                                         booking__site_id__in=list(names))
    booked = _duration_sum(held, ["booking__site_id", "resource__kind"])
    rostered = _duration_sum(Shift.objects.filter(site_id__in=list(names), start__gte=f.since, start__lt=f.until),
                             ["site_id"])
    weekdays = _weekday_counts(f.since, f.until)
    open_hours = defaultdict(float)
    for site_id, kind, weekday, start, end in (WeeklyAvailability.objects.filter(
            resource__site_id__in=list(names), resource__active=True, resource__kind__in=["room", "equipment"])
            .values_list("resource__site_id", "resource__kind", "weekday", "start_time", "end_time")):
        seconds = (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
        open_hours[(site_id, kind)] += seconds * weekdays.get(weekday, 0)
    out = []
    for site_id, name in sorted(names.items(), key=lambda kv: kv[1]):
        row = {"site_id": site_id, "site": name}
        for kind in ("staff", "room", "equipment"):
            available = rostered.get((site_id,), 0) if kind == "staff" else open_hours.get((site_id, kind), 0)
            used = booked.get((site_id, kind), 0)
            row[f"{kind}_booked_hours"] = hours(used)
            row[f"{kind}_available_hours"] = hours(available)
            row[f"{kind}_pct"] = pct(used, available)
        out.append(row)
    return out


def access(f: Filters) -> list[dict]:
    qs = AccessSnapshot.objects.all()
    if f.sites is not None:
        qs = qs.filter(site_id__in=f.sites)
    if f.service_type:
        qs = qs.filter(service_type_id=f.service_type)
    return [{"service_type_id": r["service_type_id"], "service": r["service_type__name"], "site_id": r["site_id"],
             "site": r["site__name"], "days": r["days"], "computed_at": r["computed_at"].isoformat()}
            for r in qs.values("service_type_id", "service_type__name", "site_id", "site__name", "days", "computed_at")
            .order_by("service_type__name", "site__name")]


def week_of(now: datetime) -> tuple[datetime, datetime]:
    start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=7)


def overtime_risk(f: Filters, now: datetime) -> list[dict]:
    start, end = week_of(now)
    shifts = Shift.objects.filter(start__gte=start, start__lt=end)
    if f.sites is not None:
        shifts = shifts.filter(staff__sites__in=f.sites).distinct()
        staff_ids = set(shifts.values_list("staff_id", flat=True))
        shifts = Shift.objects.filter(start__gte=start, start__lt=end, staff_id__in=staff_ids)
    totals = _duration_sum(shifts, ["staff_id", "staff__given_name", "staff__family_name", "staff__role"])
    threshold = float(StaffingSettings.current().weekly_hours_threshold)  # one rule, shared with staffing
    rows = [{"staff_id": k[0], "name": f"{k[1]} {k[2]}", "role": k[3], "hours": hours(v),
             "over": v / HOUR > threshold} for k, v in totals.items() if v / HOUR >= threshold * OVERTIME_RISK_SHARE]
    return sorted(rows, key=lambda r: (-r["hours"], r["name"]))


# --- bottlenecks (rollup) -----------------------------------------------------------------------------------------

def stage_visits(f: Filters):
    q = Q(left_at__gte=f.since, left_at__lt=f.until)
    if f.sites is not None:
        q &= Q(site_id__in=f.sites)
    if f.department:
        q &= Q(referral__department_id=f.department)
    if f.service_type:
        q &= Q(referral__service_type_id=f.service_type)
    if f.payer:
        q &= Q(referral__coverage__payer_id=f.payer)
    return StageVisit.objects.filter(q)


def bottlenecks(f: Filters) -> list[dict]:
    rows = grouped_percentiles(stage_visits(f), ["stage", "site_id", "site__name"], "seconds", {"p50": 0.5},
                               {"n": Count("pk"), "total": Sum("seconds")})
    return sorted([{"stage": r["stage"], "stage_label": STAGE_LABELS.get(r["stage"], r["stage"]),
                    "site_id": r["site_id"], "site": r["site__name"], "stays": r["n"],
                    "median_hours": hours(r["p50"]), "total_hours": hours(r["total"])} for r in rows],
                  key=lambda r: (-(r["median_hours"] or 0), r["stage"], r["site"]))


def process_map(f: Filters) -> list[dict]:
    rows = grouped_percentiles(stage_visits(f).exclude(next_stage=""), ["stage", "next_stage"], "seconds",
                               {"p50": 0.5}, {"n": Count("pk")})
    rank = {s: i for i, s in enumerate(STAGE_ORDER)}
    return sorted([{"from": r["stage"], "to": r["next_stage"], "count": r["n"], "median_hours": hours(r["p50"])}
                   for r in rows], key=lambda r: (rank.get(r["from"], 99), rank.get(r["to"], 99)))


# --- the whole dashboard ------------------------------------------------------------------------------------------

TILES = [  # (key, label, unit, where the figure is, lower is better, drill kpi, drill params)
    ("cycle_p50_hours", "Cycle time p50", "h", "cases", True, "booked", {}),
    ("cycle_p90_hours", "Cycle time p90", "h", "cases", True, "booked", {}),
    ("straight_through_pct", "Straight-through", "%", "cases", False, "booked", {"straight_through": "1"}),
    ("touches_per_case", "Manual touches / case", "", "cases", True, "booked", {}),
    ("exception_rate", "Exceptions / 100 referrals", "", "exceptions", True, "exceptions", {}),
    ("auth_breach_pct", "Payer clock breaches", "%", "auth", True, "authorizations", {"breached": "1"}),
    ("noshow_pct", "No-show rate", "%", "appointments", True, "appointments", {"outcome": "noshow"}),
    ("cancelled_pct", "Cancellation rate", "%", "appointments", True, "appointments", {"outcome": "cancelled"}),
    ("rescheduled_pct", "Reschedule rate", "%", "appointments", True, "appointments", {"outcome": "rescheduled"}),
]


def headline(f: Filters, now: datetime) -> dict:
    """The tile figures for one period."""
    cases = case_kpis(f)
    exc = sum(r["count"] for r in exceptions(f))
    auths = authorizations(f).aggregate(n=Count("pk", distinct=True), b=Count("pk", filter=breached(now), distinct=True))
    rates = appointment_rates(f)
    return {**cases, "exceptions": exc,
            "exception_rate": round(100.0 * exc / cases["received"], 1) if cases["received"] else None,
            "authorizations": auths["n"], "auth_breached": auths["b"], "auth_breach_pct": pct(auths["b"], auths["n"]),
            **rates}


def dashboard(f: Filters, now: datetime) -> dict:
    """Every figure of the manager dashboard (the page and GET /api/v1/kpis show this, and only this)."""
    current, previous = headline(f, now), headline(f.previous(), now)
    tiles = []
    for key, label, unit, _group, lower_better, drill, params in TILES:
        value, before = current.get(key), previous.get(key)
        change = round(value - before, 2) if value is not None and before is not None else None
        tiles.append({"key": key, "label": label, "unit": unit, "value": value, "previous": before,
                      "change": change, "better": None if not change else (change < 0) == lower_better,
                      "drill": drill, "drill_params": params})
    return {
        "period": {"from": f.since.isoformat(), "to": f.until.isoformat()},
        "previous_period": {"from": f.previous().since.isoformat(), "to": f.previous().until.isoformat()},
        "summary": current, "previous": previous, "tiles": tiles,
        "cycle_trend": cycle_trend(f), "backlog": backlog(f, now), "exceptions": exceptions(f),
        "payer_clocks": payer_clocks(f, now), "utilization": utilization(f), "access": access(f),
        "overtime_risk": overtime_risk(f, now),
    }
