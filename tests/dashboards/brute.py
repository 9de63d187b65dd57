"""Every KPI recomputed the slow, obvious way: Python loops over the raw event log and domain rows, no rollup."""

import math
from collections import defaultdict
from datetime import datetime, timedelta

from authorizations.models import Authorization
from healthops.models import Event
from referrals.models import Referral
from scheduling.models import Appointment, BookedResource
from staffing.models import Shift


def pctl(values, p):
    if not values:
        return None
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def h(seconds):
    return None if seconds is None else round(seconds / 3600, 1)


def t(event):
    return event.type.removeprefix("org.healthops.").rsplit(".v", 1)[0]


def referral_matches(r: Referral, f) -> bool:
    return ((f.sites is None or r.site_id in f.sites) and (not f.department or r.department_id == f.department)
            and (not f.service_type or r.service_type_id == f.service_type)
            and (not f.payer or (r.coverage and r.coverage.payer_id == f.payer)))


def journeys(now):
    """Per referral: received, booked, worked seconds, tasks, touches, stays, task rows; straight from events."""
    events = defaultdict(list)
    for e in Event.objects.order_by("time", "sequence"):
        if e.subject.startswith("referral/"):
            events[int(e.subject.split("/")[1])].append(e)
    out = {}
    for r in Referral.objects.select_related("coverage"):
        ev = events[r.pk]
        received = next(e.time for e in ev if t(e) == "referral.received")
        booked = next((e.time for e in ev if t(e) in ("referral.booked", "referral.appointment-linked")), None)
        # worked: walk every second-free way: sort open/close points and sweep
        opened, spans, tasks = {}, [], {}
        for e in ev:
            if t(e) == "task.created":
                opened[e.data["task_id"]] = e.time
                tasks[e.data["task_id"]] = {"type": e.data["task_type"], "created": e.time, "completed": None,
                                            "due": datetime.fromisoformat(e.data["due_at"])}
            elif t(e) == "task.completed":
                spans.append((opened.pop(e.data["task_id"]), e.time))
                tasks[e.data["task_id"]]["completed"] = e.time
        spans += [(s, now) for s in opened.values()]
        worked = None
        if booked:
            points = sorted({received, booked, *[x for s in spans for x in s if received <= x <= booked]})
            worked = sum((b - a).total_seconds() for a, b in zip(points, points[1:], strict=False)
                         if any(s <= a and b <= e for s, e in spans))
        touches = sum(1 for e in ev if (t(e) == "task.completed" and e.data.get("manual"))
                      or t(e) in ("task.assigned", "override.recorded"))
        stays, current, since = [], None, received
        for e in ev:
            if t(e) in ("referral.stage-changed", "referral.incomplete", "referral.booked", "referral.completed",
                        "referral.revoked"):
                current = current or e.data["from"]
                to = e.data.get("to", "closed")
                if to != current:
                    stays.append((current, to, since, e.time))
                    current, since = to, e.time
        out[r.pk] = {"referral": r, "received": received, "booked": booked, "worked": worked,
                     "tasks": tasks, "touches": touches, "stays": stays}
    return out


def kpis(f, now) -> dict:
    j = {pk: x for pk, x in journeys(now).items() if referral_matches(x["referral"], f)}
    booked = [x for x in j.values() if x["booked"] and f.since <= x["booked"] < f.until]
    cycles = [(x["booked"] - x["received"]).total_seconds() for x in booked]
    received = [x for x in j.values() if f.since <= x["received"] < f.until]
    worked = [x["worked"] for x in booked]
    waiting = [c - w for c, w in zip(cycles, worked, strict=True)]
    n = len(booked)
    exceptions = defaultdict(int)
    backlog = defaultdict(lambda: {"open": 0, "overdue": 0})
    for x in j.values():
        for task in x["tasks"].values():
            if f.since <= task["created"] < f.until:
                exceptions[task["type"]] += 1
            if task["completed"] is None:
                backlog[task["type"]]["open"] += 1
                backlog[task["type"]]["overdue"] += task["due"] < now
    auths = [z for z in Authorization.objects.select_related("coverage").prefetch_related("referrals")
             if z.submitted_at and f.since <= z.submitted_at < f.until
             and all(referral_matches(r, f) for r in z.referrals.all())]
    clocks = defaultdict(list)
    for z in auths:
        clocks[(z.coverage.payer_id, z.urgency)].append(z)
    appts = [a for a in Appointment.objects.prefetch_related("referrals__coverage")
             if f.since <= a.start < f.until and a.status != "entered-in-error"
             and (f.sites is None or a.site_id in f.sites) and all(referral_matches(r, f) for r in a.referrals.all())]
    is_rescheduled = lambda a: Appointment.objects.filter(rescheduled_from=a).exists()  # noqa: E731
    transitions = defaultdict(list)
    for x in j.values():
        for a, b, start, end in x["stays"]:
            if f.since <= end < f.until:
                transitions[(a, b)].append((end - start).total_seconds())
    room_hours = defaultdict(float)
    for held in BookedResource.objects.filter(active=True).select_related("booking", "resource"):
        if (f.since <= held.start < f.until and held.resource.kind == "room"
                and (f.sites is None or held.booking.site_id in f.sites)):
            room_hours[held.booking.site_id] += (held.end - held.start).total_seconds()
    week = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    rostered = defaultdict(float)
    for s in Shift.objects.all():
        at_sites = set(s.staff.sites.values_list("pk", flat=True))
        if week <= s.start < week + timedelta(days=7) and (f.sites is None or at_sites & f.sites):
            rostered[s.staff_id] += (s.end - s.start).total_seconds() / 3600
    return {
        "booked": n, "received": len(received),
        "cycle_p50_hours": h(pctl(cycles, .5)), "cycle_p90_hours": h(pctl(cycles, .9)),
        "worked_hours": h(sum(worked) / n) if n else None, "waiting_hours": h(sum(waiting) / n) if n else None,
        "straight_through_pct": round(100 * sum(1 for x in booked if not x["tasks"]) / n, 1) if n else None,
        "touches_per_case": round(sum(x["touches"] for x in booked) / n, 2) if n else None,
        "exceptions": dict(exceptions),
        "backlog": {k: dict(v) for k, v in backlog.items()},
        "payer_clocks": {k: {"count": len(v), "breached": sum(1 for z in v if (z.decided_at or now) > z.due_at),
                             "p50_hours": h(pctl([(z.decided_at - z.submitted_at).total_seconds()
                                                  for z in v if z.decided_at], .5))} for k, v in clocks.items()},
        "appointments": len(appts),
        "noshow": sum(a.status == "noshow" for a in appts),
        "cancelled": sum(a.status == "cancelled" and not is_rescheduled(a) for a in appts),
        "rescheduled": sum(is_rescheduled(a) for a in appts),
        "process_map": {k: (len(v), h(pctl(v, .5))) for k, v in transitions.items()},
        "room_hours": {k: h(v) for k, v in room_hours.items()},
        "overtime": {k for k, v in rostered.items() if v >= 36},
    }
