"""The cost of one partner POST ServiceRequest in one process, without gunicorn or concurrency: SQL queries, and wall
and CPU milliseconds per request through django.test.Client, beside the floor (bench.urls' bare DRF write).

Runs against the database in DATABASE_URL with production settings (DEBUG off), like `make bench`'s api section
but on one core and without load, so it can be run while another benchmark uses the machine:

    DATABASE_URL=postgres://... python -m bench.api_cpu [--requests 300] [--show-queries] [--profile out.html]

It writes what a bench run writes (a bench partner client, its referrals) and drops the flow-start messages of the
referrals it made, as bench.api does. --profile needs pyinstrument (the dev extras).
"""

import argparse
import os
import statistics
import time
import uuid


def _setup() -> None:
    os.environ.update({"DJANGO_ROOT_URLCONF": "bench.urls", "DEBUG": "0", "LOG_LEVEL": "WARNING",
                       "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "testserver",
                       "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthops.settings")
    import django

    django.setup()


def _time(call, n: int) -> dict:
    wall, cpu = [], []
    for i in range(n):
        w, c = time.perf_counter(), time.process_time()
        call(i)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return {"wall_ms_median": round(statistics.median(wall), 2), "wall_ms_mean": round(statistics.fmean(wall), 2),
            "cpu_ms_median": round(statistics.median(cpu), 2), "cpu_ms_mean": round(statistics.fmean(cpu), 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one POST")
    parser.add_argument("--profile", help="write a pyinstrument profile of the POSTs to this file (.txt: text, else HTML)")
    args = parser.parse_args(argv)
    _setup()

    from django.db import connection
    from django.db.models import Max
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_q.models import OrmQ

    from bench.api import _drop_flow_jobs, _service_request, bench_partner
    from referrals.models import Referral

    token, data = bench_partner()
    patients, codes = data["patients"], data["codes"]
    run = uuid.uuid4().hex[:8]
    jobs_before = OrmQ.objects.aggregate(m=Max("pk"))["m"] or 0
    http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    for p in patients:
        body = {"resourceType": "Patient", "identifier": [{"type": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": p.mrn}],
            "name": [{"family": p.family_name, "given": [p.given_name]}], "birthDate": p.birth_date.isoformat()}
        assert http.post("/fhir/r4/Patient", body, content_type="application/fhir+json").status_code in (200, 201)

    def post(i: int, label: str = "p"):
        response = http.post("/fhir/r4/ServiceRequest", _service_request(f"{run}{label}", 0, i, patients, codes),
                             content_type="application/fhir+json", HTTP_IDEMPOTENCY_KEY=f"{run}{label}-{i}")
        assert response.status_code == 201, response.content[:300]

    def floor(i: int):
        response = http.post("/api/bench/floor", _service_request(run, 0, i, patients, codes),
                             content_type="application/fhir+json")
        assert response.status_code == 201, response.content[:300]

    for i in range(20):  # warm-up: imports, connections, caches
        post(i, "w")
        floor(i)
    with CaptureQueriesContext(connection) as ctx:
        post(0, "q")
    post_queries = [q["sql"] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as ctx:
        floor(0)
    floor_queries = len(ctx.captured_queries)

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    posts = _time(post, args.requests)
    if args.profile:
        profiler.stop()
        with open(args.profile, "w") as out:
            out.write(profiler.output_text(unicode=True, show_all=False) if args.profile.endswith(".txt")
                      else profiler.output_html())
    floors = _time(floor, args.requests)

    created = set(Referral.objects.filter(partner__identifier="BENCH-PARTNER", external_identifier__startswith=run)
                  .values_list("pk", flat=True))
    _drop_flow_jobs(jobs_before, created)
    print(f"POST ServiceRequest: {len(post_queries)} queries, {posts}")
    print(f"floor:               {floor_queries} queries, {floors}")
    print(f"cpu ratio floor/post (median): {floors['cpu_ms_median'] / posts['cpu_ms_median']:.2f}")
    if args.show_queries:
        for sql in post_queries:
            print("  ", sql[:160])


if __name__ == "__main__":
    main()
