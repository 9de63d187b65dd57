"""The rollup: fold the event log into ReferralFacts and StageVisit rows, incrementally, from a cursor on Event.sequence.

Each referral touched by new events is recomputed from all of its events (a pure function of them), so a refresh is
idempotent: running it twice, or after a crash half-way, gives the same rows.
"""

import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from healthops.models import Event
from referrals.models import Referral

CURSOR = "referral-facts"
BATCH = 2000
WINDOW = 20_000  # events per step of an incremental refresh
STAGE_TYPES = {"referral.stage-changed", "referral.incomplete", "referral.booked", "referral.completed",
               "referral.revoked"}
BOOKED_TYPES = {"referral.booked", "referral.appointment-linked"}
PREFIX = "org.healthops."


def short(type_: str) -> str:
    return type_.removeprefix(PREFIX).rsplit(".v", 1)[0]


def union_seconds(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Length of the union of intervals, clipped to [start, end]."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start))
    total, cur_a, cur_b = 0.0, None, None
    for a, b in clipped:
        if cur_b is None or a > cur_b:
            if cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return total


def journey(referral: dict, events: list[dict], now: datetime) -> tuple[dict, list[dict], list[dict]]:
    """The facts of one referral, its stage visits and its human tasks, from its events in order (dicts with type, time, data,
    sequence). `referral` carries received_at and stage from the referrals table, used when events are missing."""
    received_at = next((e["time"] for e in events if short(e["type"]) == "referral.received"), referral["received_at"])
    booked_at = next((e["time"] for e in events if short(e["type"]) in BOOKED_TYPES), None)
    stage_events = [e for e in events if short(e["type"]) in STAGE_TYPES]
    stage = stage_events[0]["data"].get("from") if stage_events else referral["stage"]
    stage = stage or referral["stage"]
    visits, entered = [], received_at
    for e in stage_events:
        to = "closed" if short(e["type"]) == "referral.revoked" else e["data"].get("to", "")
        if to == stage:
            continue  # same stage, new reason: the stay goes on
        visits.append({"stage": stage, "next_stage": to, "entered_at": entered, "left_at": e["time"],
                       "seconds": int((e["time"] - entered).total_seconds())})
        stage, entered = to, e["time"]
    visits.append({"stage": stage, "next_stage": "", "entered_at": entered, "left_at": None, "seconds": None})

    opened: dict = {}
    tasks: dict = {}
    intervals = []
    created = touches = escalations = 0
    for e in events:
        kind, data = short(e["type"]), e["data"]
        task = tasks.get(data.get("task_id"))
        if kind == "task.created":
            created += 1
            opened[data.get("task_id")] = e["time"]
            due = data.get("due_at")
            tasks[data.get("task_id")] = {"task_id": data.get("task_id"), "task_type": data.get("task_type", ""),
                                          "reason": (data.get("reason") or "")[:300], "created_at": e["time"],
                                          "due_at": datetime.fromisoformat(due) if due else None,
                                          "completed_at": None, "on_hold": False, "manual": None}
        elif kind in ("task.held", "task.resumed") and task:
            task["on_hold"] = kind == "task.held"
            if kind == "task.resumed" and task["due_at"] and data.get("waited_seconds"):
                task["due_at"] += timedelta(seconds=data["waited_seconds"])  # as work.task_resume moves the SLA
        elif kind == "task.completed":
            if data.get("manual"):
                touches += 1
            if task:
                task.update(completed_at=e["time"], on_hold=False, manual=bool(data.get("manual")))
            start = opened.pop(data.get("task_id"), None)
            if start is not None:
                intervals.append((start, e["time"]))
        elif kind in ("task.assigned", "override.recorded"):
            touches += 1
        elif kind == "task.escalated":
            escalations += 1
    intervals += [(start, now) for start in opened.values()]
    facts = {"stage": stage, "received_at": received_at, "booked_at": booked_at, "tasks_created": created,
             "manual_touches": touches, "escalations": escalations,
             "cycle_seconds": None, "worked_seconds": None, "waiting_seconds": None,
             "last_sequence": max((e["sequence"] for e in events), default=0)}
    if booked_at is not None:
        cycle = (booked_at - received_at).total_seconds()
        worked = union_seconds(intervals, received_at, booked_at)
        facts.update(cycle_seconds=int(cycle), worked_seconds=int(worked), waiting_seconds=int(cycle) - int(worked))
    return facts, visits, [t for t in tasks.values() if t["task_id"] is not None]


def rebuild(referral_ids: list[int], *, now: datetime | None = None) -> int:
    """Recompute the rows of these referrals from their events."""
    from .models import ReferralFacts, StageVisit, TaskFact

    now = now or timezone.now()
    referrals = {r["pk"]: r for r in Referral.objects.filter(pk__in=referral_ids).values(
        "pk", "site_id", "department_id", "service_type_id", "coverage__payer_id", "priority", "stage", "received_at")}
    by_subject = defaultdict(list)
    for e in (Event.objects.filter(subject__in=[f"referral/{pk}" for pk in referrals])
              .order_by("time", "sequence").values("subject", "type", "time", "data", "sequence").iterator(2000)):
        by_subject[e["subject"]].append(e)
    rows, visits, tasks = [], [], []
    for pk, r in referrals.items():
        facts, stays, opened = journey(r, by_subject.get(f"referral/{pk}", []), now)
        tasks += [TaskFact(referral_id=pk, site_id=r["site_id"], **t) for t in opened]
        rows.append(ReferralFacts(referral_id=pk, site_id=r["site_id"], department_id=r["department_id"],
                                  service_type_id=r["service_type_id"], payer_id=r["coverage__payer_id"],
                                  priority=r["priority"], **facts))
        visits += [StageVisit(referral_id=pk, site_id=r["site_id"], **v) for v in stays]
    with transaction.atomic():
        ReferralFacts.objects.filter(pk__in=list(referrals)).delete()
        StageVisit.objects.filter(referral_id__in=list(referrals)).delete()
        TaskFact.objects.filter(referral_id__in=list(referrals)).delete()
        ReferralFacts.objects.bulk_create(rows, batch_size=BATCH)
        TaskFact.objects.bulk_create(tasks, batch_size=BATCH)
        StageVisit.objects.bulk_create(visits, batch_size=BATCH)
    return len(rows)


def refresh_facts(*, full: bool = False, now: datetime | None = None, budget: float | None = None) -> dict:
    """Fold the events written since the cursor into the facts. `full`: start again from the first event.

    An incremental run folds WINDOW events at a time and saves the cursor after each, for at most `budget` seconds
    (default: a third of the worker's timeout): a long catch-up (a worker down for a day, a bulk import) goes on at
    the next run instead of being killed at the timeout and starting over, forever."""
    from .models import FactsCursor, ReferralFacts, StageVisit, TaskFact

    cursor, _ = FactsCursor.objects.get_or_create(name=CURSOR)
    top = Event.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    if full:
        ReferralFacts.objects.all().delete()
        StageVisit.objects.all().delete()
        TaskFact.objects.all().delete()
        done = _rebuild_all(sorted(Referral.objects.values_list("pk", flat=True)), now)
        cursor.sequence, cursor.refreshed_at = top, timezone.now()
        cursor.save()
        return {"referrals": done, "cursor": top, "behind": 0}
    deadline = time.monotonic() + (budget if budget is not None else _run_budget())
    done = 0
    while cursor.sequence < top:  # at least one window per run, however little time is left
        upto = min(top, cursor.sequence + WINDOW)
        subjects = (Event.objects.filter(sequence__gt=cursor.sequence, sequence__lte=upto,
                                         subject__startswith="referral/")
                    .values_list("subject", flat=True).distinct())
        touched = {int(s.split("/", 1)[1]) for s in subjects if s.split("/", 1)[1].isdigit()}
        with transaction.atomic():
            done += _rebuild_all(sorted(touched), now)
            cursor.sequence, cursor.refreshed_at = upto, timezone.now()
            cursor.save()
        if time.monotonic() >= deadline:
            break
    return {"referrals": done, "cursor": cursor.sequence, "behind": top - cursor.sequence}


def _rebuild_all(ordered: list[int], now: datetime | None) -> int:
    return sum(rebuild(ordered[i:i + BATCH], now=now) for i in range(0, len(ordered), BATCH))


def _run_budget() -> float:
    from django_q.conf import Conf

    return (Conf.TIMEOUT or 60) / 3


def facts_version() -> int:
    """Changes whenever the facts change: part of the cache key of every dashboard figure."""
    from .models import FactsCursor

    return FactsCursor.objects.filter(name=CURSOR).values_list("sequence", flat=True).first() or 0


def refresh_access(*, max_age: timedelta = timedelta(minutes=15), now: datetime | None = None) -> int:
    """Recompute third-next-available for every (service, site) pair that has referrals, when older than max_age."""
    from healthops.models import Site
    from scheduling.models import ServiceType
    from scheduling.slots import third_next_available

    from .models import AccessSnapshot, ReferralFacts

    now = now or timezone.now()
    pairs = (ReferralFacts.objects.filter(service_type__isnull=False).values_list("service_type_id", "site_id")
             .distinct())
    fresh = set(AccessSnapshot.objects.filter(computed_at__gte=now - max_age).values_list("service_type_id", "site_id"))
    services, sites = ServiceType.objects.in_bulk(), Site.objects.in_bulk()
    count = 0
    for service_id, site_id in pairs:
        if (service_id, site_id) in fresh or service_id not in services or site_id not in sites:
            continue
        days = third_next_available(service_type=services[service_id], site=sites[site_id], now=now)
        AccessSnapshot.objects.update_or_create(service_type_id=service_id, site_id=site_id,
                                                defaults={"days": days, "computed_at": now})
        count += 1
    return count
