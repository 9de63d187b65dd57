"""`make bench`: the measured figures each issue asks for, on PostgreSQL, printed side by side with their baselines.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/healthops_bench, created if missing),
BENCH_SCALE (seed_demo --scale, default 500: 100k referrals, about 1M events),
BENCH_OUTAGE_SECONDS (ERP outage drill, default 120),
BENCH_ONLY (comma-separated sections: scheduling, dashboards, queues, flow, drills, api),
BENCH_STP_REFERRALS (referrals in the straight-through run, default 200; past about 450 the bench network has no free
cardiology slot left in its 4-week window and the rest go to a scheduler),
BENCH_API_SECONDS (each load phase of the api section, default 20), BENCH_API_WORKERS (default 2 x cores + 1).
"""

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {system}"


def cpu_calibration_ms() -> float:
    """A fixed single-threaded pure-Python loop, best of five, in ms: machines of the same kind differ (one ran the
    same code at 18-21 straight-through referrals/s, another at 12), and this says how fast this one's core is."""

    def loop() -> int:
        x = 0
        for i in range(5_000_000):
            x += i & 7
        return x

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        loop()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n## {title}")
    width = max(len(str(r[0])) for r in rows)
    for row in rows:
        print(f"  {str(row[0]).ljust(width)}  " + "  ".join(str(c) for c in row[1:]))


def main() -> int:
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/healthops_bench")
    scale = int(os.environ.get("BENCH_SCALE", "500"))
    outage = float(os.environ.get("BENCH_OUTAGE_SECONDS", "120"))
    only = set(filter(None, os.environ.get("BENCH_ONLY", "scheduling,dashboards,queues,flow,drills,api").split(",")))
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthops.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from healthops.sandbox.server import start_sandbox

    calibration = cpu_calibration_ms()
    print(f"HealthOps benchmarks on {machine()}; PostgreSQL at {url.rsplit('@', 1)[-1]}")
    print(f"CPU calibration (5M-step Python loop, best of 5; lower is faster): {calibration} ms")
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    seed_started = time.monotonic()
    call_command("seed_demo", scale=scale, verbosity=1)
    print(f"seed_demo --scale {scale}: {time.monotonic() - seed_started:.0f} s (0 s when already seeded)")
    from django.db import connection

    with connection.cursor() as cursor:
        # Dead rows and planner statistics as autovacuum would leave them (this machine's server runs without it, and
        # earlier bench runs rewrote the rollup and churned bookings).
        cursor.execute("VACUUM ANALYZE")
    server, sandbox_url = start_sandbox(port=0, environ={})
    results: dict = {"machine": machine(), "cpu_calibration_ms": calibration, "scale": scale}
    try:
        if "scheduling" in only:
            from bench import scheduling as sb
            from bench.network import ensure_bench_capacity

            ensure_bench_capacity()
            results["resources"] = sb.resource_count()
            results["slot_search"] = sb.slot_search_bench()
            results["slot_search_90d"] = sb.slot_search_bench(days=90)
            results["contention"] = [sb.contention_bench(variant="exclusion"),
                                     sb.contention_bench(variant="for-update")]
            s = results["slot_search"]
            table("Slot search (typical request: one service, all sites, 4 weeks, 20 suggestions)", [
                ("resources", json.dumps(results["resources"])),
                ("p50 / p95 / max", f"{s['p50_ms']} / {s['p95_ms']} / {s['max_ms']} ms", "goal: p95 <= 50 ms"),
                ("suggestions per search", s["mean_candidates"]),
                ("same, 90-day window", f"{results['slot_search_90d']['p50_ms']} / "
                                        f"{results['slot_search_90d']['p95_ms']} ms")])
            table("Booking under contention (32 clients, 320 attempts, 6 slots x 2 rooms)", [
                ("variant", "booked", "conflicts", "errors", "overlaps in DB", "attempts/s", "p50 ms", "p99 ms")] + [
                (c["variant"], c["booked"], c["conflict"], c["error"], c["overlaps_in_db"], c["throughput_per_s"],
                 c["p50_ms"], c["p99_ms"]) for c in results["contention"]])
        if "dashboards" in only:
            from bench.dashboards import dashboard_bench

            d = results["dashboards"] = dashboard_bench()
            table(f"Manager dashboard, 90 days, {d['referrals']} referrals / {d['events']} events (goal p95 <= 300 ms)", [
                ("path", "p50 ms", "p95 ms"),
                ("cold (cache cleared)", d["cold_p50_ms"], d["cold_p95_ms"]),
                ("warm (cached)", d["warm_p50_ms"], d["warm_p95_ms"]),
                ("naive live aggregate", d["naive_p50_ms"], d["naive_p95_ms"]),
                ("speed-up at p50", f"{d['speedup_cold_p50']}x cold", f"{d['speedup_warm_p50']}x warm"),
                ("rollup refresh", f"full {d['full_refresh_s']} s", f"incremental {d['incremental_refresh_s']} s"),
                ("naive figures equal the rollup's", d["naive_agrees_with_rollup"])])
        if "queues" in only:
            from bench.queues import queue_page_bench

            q = results["queue_page"] = queue_page_bench()
            table(f"Coordinator's queue page under gunicorn ({q['gunicorn_workers']} sync workers, DEBUG off, "
                  f"DB_CONN_MAX_AGE={q['db_conn_max_age']}), {q['users']} concurrent users, "
                  f"{q['open_tasks_at_coordinator_sites']} open tasks at their sites, {q['claimed_by_coordinator']} "
                  "of them theirs (goal: server p95 <= 150 ms)", [
                      ("page", "req/s", "server p50 ms", "server p95 ms", "client p50 ms", "client p95 ms")] + [
                      (p["label"], p["per_s"], p["server_p50_ms"], p["server_p95_ms"], p["client_p50_ms"],
                       p["client_p95_ms"]) for p in q["pages"].values()])
        if "flow" in only:
            from bench.flow import stp_throughput

            results["straight_through"] = stp_throughput(n=int(os.environ.get("BENCH_STP_REFERRALS", "200")),
                                                           sandbox_url=sandbox_url,
                                                           workers=int(os.environ.get("BENCH_Q_WORKERS", "2")))
            table("Straight-through processing: intake to booked with the worker running (goal >= 20/s)",
                  list(results["straight_through"].items()))
        if "drills" in only:
            from bench import drills

            results["drill_eligibility"] = drills.eligibility_drill(n=1000, sandbox_url=sandbox_url)
            results["drill_worker_kill"] = drills.worker_kill_drill(n=200, sandbox_url=sandbox_url)
            results["drill_erp_outage"] = drills.erp_outage_drill(appointments=60, outage_seconds=outage,
                                                                   sandbox_url=sandbox_url)
            for key, title in (("drill_eligibility", "Drill (a): 1,000 eligibility checks, 30% 5xx and timeouts"),
                               ("drill_worker_kill", "Drill (b): 200 submissions, worker SIGKILLed mid-batch"),
                               ("drill_erp_outage", f"Drill (c): ERP down for {outage:g} s")):
                table(title, list(results[key].items()))
        if "api" in only:
            from bench.api import api_bench

            a = results["api"] = api_bench()
            p, f = a["post"], a["floor"]
            table(f"Partner API under gunicorn ({a['gunicorn_workers']} sync workers, DB_CONN_MAX_AGE="
                  f"{a['db_conn_max_age']}), {a['clients']} concurrent clients, {a['seconds']:g} s each "
                  "(goal: POST ServiceRequest >= 0.3 of the floor's throughput)", [
                      ("endpoint", "req/s", "p50 ms", "p95 ms", "server p50 ms", "server p95 ms", "statuses"),
                      ("POST /fhir/r4/ServiceRequest", p["per_s"], p["p50_ms"], p["p95_ms"], p["server_p50_ms"],
                       p["server_p95_ms"], json.dumps(a["post_statuses"])),
                      ("floor: bare DRF POST, 1 row", f["per_s"], f["p50_ms"], f["p95_ms"], f["server_p50_ms"],
                       f["server_p95_ms"], json.dumps(a["floor_statuses"])),
                      ("ratio to the floor", f"{a['ratio']} (goal >= {a['goal']}: "
                                             f"{'met' if a['met'] else 'NOT met'})"),
                      ("referrals created", a["referrals_created"], "each starts its ReferralFlow; no django-q2 worker "
                       f"ran, so its first jobs ({a['flow_jobs_dropped']} queued) were dropped afterwards")])
            table(f"Partner API list endpoints, the same {a['clients']} clients in a round robin over them "
                  f"(the bench partner has {a['partner_referrals']} referrals)", [
                      ("endpoint", "req/s", "p50 ms", "p95 ms", "server p50 ms", "server p95 ms")] + [
                      (label, r["per_s"], r["p50_ms"], r["p95_ms"], r["server_p50_ms"], r["server_p95_ms"])
                      for label, r in a["lists"].items()] + [("statuses", json.dumps(a["list_statuses"]))])
    finally:
        server.shutdown()
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out = ROOT / "artifacts" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nAll figures in {out.relative_to(ROOT)}; total {results['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
