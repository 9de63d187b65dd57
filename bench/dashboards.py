"""Dashboard benchmark: server time of GET /dashboards/ read from the rollup, cold (empty cache) and warm (cached),
side by side with the naive live aggregate (fold the event log on every request), plus the rollup's refresh time."""

import time
from datetime import datetime, timedelta

from django.utils import timezone

from .scheduling import percentile


def _manager():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from healthops.permissions import MANAGER, ensure_roles

    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get(name=MANAGER))
    return user


def naive_live_kpis(f, now: datetime) -> dict:
    """What the page would cost without the rollup: every referral's events folded live, then the case KPIs."""
    from collections import defaultdict

    from dashboards.facts import journey
    from dashboards.kpis import dims, hours, pct
    from dashboards.kpis import percentile as pctl
    from healthops.models import Event
    from referrals.models import Referral

    referrals = {r["pk"]: r for r in Referral.objects.filter(dims(f)).values("pk", "received_at", "stage")}
    events = defaultdict(list)
    for e in (Event.objects.filter(subject__startswith="referral/").order_by("time", "sequence")
              .values("subject", "type", "time", "data", "sequence").iterator(5000)):
        events[e["subject"]].append(e)
    booked = []
    for pk, r in referrals.items():
        facts, _visits, _tasks = journey(r, events.get(f"referral/{pk}", []), now)
        if facts["booked_at"] and f.since <= facts["booked_at"] < f.until:
            booked.append(facts)
    cycles = [b["cycle_seconds"] for b in booked]
    return {"booked": len(booked), "cycle_p50_hours": hours(pctl(cycles, 0.5)),
            "cycle_p90_hours": hours(pctl(cycles, 0.9)),
            "straight_through_pct": pct(sum(1 for b in booked if b["tasks_created"] == 0), len(booked))}


def dashboard_bench(*, runs: int = 20, naive_runs: int = 3, days: int = 90) -> dict:
    """p50/p95 server time (ms) of the dashboard page: cold (cache cleared before each request) and warm (cached),
    the naive live aggregate for the same period, the speed-up ratios, and the rollup refresh (full and incremental)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from dashboards.facts import refresh_facts
    from dashboards.kpis import Filters, case_kpis
    from healthops.models import Event
    from referrals.models import Referral

    started = time.perf_counter()
    refresh_facts(full=True)
    full_refresh_s = time.perf_counter() - started

    from dashboards.models import AccessSnapshot, ReferralFacts, StageVisit, TaskFact

    with connection.cursor() as cursor:  # the rebuild rewrote every row: vacuum and statistics, as autovacuum would
        cursor.execute("VACUUM ANALYZE " + ", ".join(m._meta.db_table for m in
                                                     (ReferralFacts, StageVisit, TaskFact, AccessSnapshot)))
    started = time.perf_counter()
    refresh_facts()
    incremental_refresh_s = time.perf_counter() - started

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(_manager())
    today = timezone.localdate()
    url = f"/dashboards/?from={today - timedelta(days=days - 1)}&to={today}"

    def timed(before=None) -> float:
        if before:
            before()
        t0 = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return (time.perf_counter() - t0) * 1000

    timed(cache.clear)  # connections, templates and imports warm up once
    cold = [timed(cache.clear) for _ in range(runs)]
    warm = [timed() for _ in range(runs)]

    now = timezone.now()
    until = datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone.get_current_timezone())
    f = Filters(since=until - timedelta(days=days), until=until)
    naive = []
    for _ in range(naive_runs):
        t0 = time.perf_counter()
        live = naive_live_kpis(f, now)
        naive.append((time.perf_counter() - t0) * 1000)
    rollup = case_kpis(f)
    agrees = all(rollup[k] == live[k] for k in ("booked", "cycle_p50_hours", "cycle_p90_hours", "straight_through_pct"))
    result = {
        "database": connection.vendor, "referrals": Referral.objects.count(), "events": Event.objects.count(),
        "period_days": days, "runs": runs,
        "cold_p50_ms": round(percentile(cold, 50), 1), "cold_p95_ms": round(percentile(cold, 95), 1),
        "warm_p50_ms": round(percentile(warm, 50), 1), "warm_p95_ms": round(percentile(warm, 95), 1),
        "naive_p50_ms": round(percentile(naive, 50), 1), "naive_p95_ms": round(percentile(naive, 95), 1),
        "full_refresh_s": round(full_refresh_s, 1), "incremental_refresh_s": round(incremental_refresh_s, 2),
        "naive_agrees_with_rollup": agrees,
    }
    result["speedup_cold_p50"] = round(result["naive_p50_ms"] / result["cold_p50_ms"], 1)
    result["speedup_warm_p50"] = round(result["naive_p50_ms"] / result["warm_p50_ms"], 1)
    return result


if __name__ == "__main__":  # python -m bench.dashboards, with DATABASE_URL pointing at a seeded database
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthops.settings")
    django.setup()
    print(json.dumps(dashboard_bench(), indent=2))
