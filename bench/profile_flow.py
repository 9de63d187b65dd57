"""Where a straight-through referral's worker time goes: n referrals through intake, then their flow jobs run one by one
in this process exactly as a worker would run them (the broker's messages, in order), with SQL queries counted per
job function and, optionally, a cProfile of the whole run.

    BENCH_DATABASE_URL=... python -m bench.profile_flow [n] [--profile out.prof]

Uses the bench database that `make bench` seeded; cancels what it booked afterwards."""

import cProfile
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 50
    prof_out = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/healthops_bench")
    os.environ["DATABASE_URL"] = url
    os.environ["SANDBOX_URL"] = "http://127.0.0.1:8199"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthops.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.db import connection, transaction
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from bench.flow import release_bench_bookings, straight_through_case
    from healthops.sandbox.server import start_sandbox
    from referrals.models import Referral, WorkItem
    from referrals.services import referral_intake

    server, _ = start_sandbox(port=8199, environ={})
    case = straight_through_case(n)
    service, sites, practice, actor = case["service"], case["sites"], case["practice"], case["actor"]
    patients, coverages = case["patients"], case["coverages"]
    OrmQ.objects.all().delete()

    queries: Counter = Counter()
    seconds: defaultdict = defaultdict(float)
    calls: Counter = Counter()
    current = ["intake"]

    trace = os.environ.get("TRACE_SQL")

    def count(execute, sql, params, many, context):
        queries[current[0]] += 1
        if trace:
            print(f"[{current[0]}] {sql[:160]}")
        return execute(sql, params, many, context)

    from referrals import qjob

    def timed(run, name_of):
        def run_timed(*args, **kwargs):  # chained jobs run inside the first one's delivery
            outer, name = current[0], "job:" + name_of(*args)
            current[0] = name
            t = time.perf_counter()
            try:
                return run(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - t
                seconds[outer] -= time.perf_counter() - t
                calls[name] += 1
                current[0] = outer

        return run_timed

    qjob._run_one = timed(qjob._run_one, lambda task_ref, *_: task_ref.rsplit(".", 1)[-1])
    qjob._run_started = timed(qjob._run_started, lambda chained: chained.activation.flow_task.name)
    profiler = cProfile.Profile() if prof_out else None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_started, db_cpu_started = time.process_time(), _backend_cpu(backend)
    started = time.perf_counter()
    ids = []
    with connection.execute_wrapper(count):
        if profiler:
            profiler.enable()
        t = time.perf_counter()
        for i, (patient, coverage) in enumerate(zip(patients, coverages, strict=True)):
            with transaction.atomic():
                ids.append(referral_intake(actor=actor, referring_organization=practice, site=sites[i % len(sites)],
                                           reason="Bench referral", source_channel="fhir-api", patient=patient,
                                           coverage=coverage, service_type=service).pk)
        seconds["intake"] += time.perf_counter() - t
        calls["intake"] = n
        while True:  # the worker: take the oldest free message, run it, repeat
            message = OrmQ.objects.filter(lock__lte=django.utils.timezone.now()).order_by("pk").first()
            if message is None:
                break
            message.delete()
            task = SignedPackage.loads(message.payload)
            func = task["func"]
            name = func if isinstance(func, str) else func.__name__
            if name == "referrals.qjob.run_job":
                name = f"run_job:{task['args'][0].rsplit('.', 1)[-1]}"
            current[0] = name
            module, attr = func.rsplit(".", 1)
            t = time.perf_counter()
            getattr(__import__(module, fromlist=[attr]), attr)(*task["args"], **task["kwargs"])
            seconds[name] += time.perf_counter() - t
            calls[name] += 1
            current[0] = "between"
        if profiler:
            profiler.disable()
    total = time.perf_counter() - started
    cpu, db_cpu = time.process_time() - cpu_started, _backend_cpu(backend) - db_cpu_started
    booked = Referral.objects.filter(pk__in=ids, stage="booked").count()
    print(f"{n} referrals, {booked} booked, {WorkItem.objects.filter(referral_id__in=ids).count()} human tasks, "
          f"{total:.1f} s in one process = {n / total:.1f}/s ({1000 * total / n:.0f} ms per referral)")
    print(f"{'job':40} {'calls':>6} {'ms/ref':>8} {'queries/ref':>12}")
    for name in sorted(seconds, key=seconds.get, reverse=True):
        print(f"{name:40} {calls[name]:6} {1000 * seconds[name] / n:8.1f} {queries[name] / n:12.1f}")
    print(f"{'all':40} {'':6} {1000 * total / n:8.1f} {sum(queries.values()) / n:12.1f}")
    print(f"CPU per referral: this process {1000 * cpu / n:.1f} ms, its PostgreSQL backend {1000 * db_cpu / n:.1f} ms "
          "(intake included; the sandbox's threads too)")
    if profiler:
        profiler.dump_stats(prof_out)
    release_bench_bookings()
    server.shutdown()
    return 0


def _backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend `pid` has used (it runs on this machine)."""
    from bench.flow import process_cpu

    return process_cpu(pid)[2]


if __name__ == "__main__":
    sys.exit(main())
