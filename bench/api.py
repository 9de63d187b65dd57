"""The partner API under gunicorn: POST ServiceRequest with 16 concurrent clients beside a bare DRF write (the floor),
then the main list endpoints under the same 16-client load."""

import http.client
import json
import os
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from .scheduling import percentile
from .serve import gunicorn, server_ms

CLIENTS = 16
PATIENTS = 64
GOAL = 0.3  # POST ServiceRequest throughput, as a fraction of the floor's


def workers() -> int:
    """gunicorn's rule of thumb, 2 x cores + 1: sync workers block on PostgreSQL, so more workers than cores keep the
    cores busy; many more only add switching (PostgreSQL and the 16 client threads share the same cores)."""
    return int(os.environ.get("BENCH_API_WORKERS") or 2 * (os.cpu_count() or 1) + 1)


def bench_partner() -> tuple[str, dict]:
    """A new client of the bench partner, with a rate limit no bench reaches (the limit stays on, as in production),
    and the patients it refers, matched through POST Patient as a partner would."""
    from django.utils import timezone

    from authorizations.models import Coverage
    from healthops.audit import system_user
    from partners.models import Scope
    from partners.services import partner_client_create, partner_organization_ensure
    from scheduling.models import ServiceType

    actor = system_user()
    org = partner_organization_ensure(identifier="BENCH-PARTNER", name="Bench partner", actor=actor)
    _, token = partner_client_create(organization=org, scopes=list(Scope.values), actor=actor,
                                     name=f"bench {timezone.now():%Y-%m-%d %H:%M:%S}",
                                     rate_per_minute=10_000_000, burst=1_000_000)
    covered = (Coverage.objects.filter(status=Coverage.Status.ACTIVE).select_related("patient")
               .order_by("patient_id").distinct("patient_id")[:PATIENTS])
    patients = [c.patient for c in covered]
    codes = list(ServiceType.objects.filter(active=True).order_by("code").values_list("code", flat=True)[:8])
    return token, {"patients": patients, "codes": codes}


class Conn:
    """One client's connection (http.client reconnects by itself when a sync worker closes it after a response)."""

    def __init__(self, base: str, token: str):
        netloc = urlsplit(base).netloc
        self.http = http.client.HTTPConnection(netloc, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        accept = "application/fhir+json" if path.startswith("/fhir/") else "application/json"
        started = time.perf_counter()
        self.http.request(method, path, body=body, headers={**self.headers, "Accept": accept, **(headers or {})})
        response = self.http.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.getheader("Connection", "").lower() == "close":
            self.http.close()
        return response.status, data, elapsed, server_ms(response.headers)


def _link_patients(base: str, token: str, patients) -> None:
    conn = Conn(base, token)
    for p in patients:
        body = {"resourceType": "Patient", "identifier": [{"type": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": p.mrn}],
            "name": [{"family": p.family_name, "given": [p.given_name]}], "birthDate": p.birth_date.isoformat()}
        status, data, _, _ = conn.call("POST", "/fhir/r4/Patient", json.dumps(body).encode(),
                                       {"Content-Type": "application/fhir+json"})
        assert status in (200, 201), (status, data[:300])


def _load(base: str, token: str, seconds: float, request_for) -> dict:
    """CLIENTS threads calling `request_for(thread, i)` -> (label, method, path, body, headers) until `seconds`
    have passed (after a short warm-up that is not counted)."""
    results: dict[str, list] = {}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)
    window: dict[str, float] = {}

    def client(n: int):
        conn = Conn(base, token)
        mine, codes, i = [], {}, 0
        for _ in range(2):  # warm-up: this worker's imports, connections and caches
            conn.call(*request_for(n, i)[1:])
            i += 1
        barrier.wait()
        while time.perf_counter() < window["end"]:
            label, *call = request_for(n, i)
            status, _, elapsed, server = conn.call(*call)
            mine.append((label, elapsed, server))
            codes[status] = codes.get(status, 0) + 1
            i += 1
        with lock:
            for label, elapsed, server in mine:
                results.setdefault(label, []).append((elapsed, server))
            for status, count in codes.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    window["end"] = time.perf_counter() + 3600  # set properly once everyone is warm
    barrier.wait()
    started = time.perf_counter()
    window["end"] = started + seconds
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    out = {"statuses": statuses, "seconds": round(wall, 1), "by": {}}
    for label, rows in results.items():
        client_ms = [r[0] for r in rows]
        server = [r[1] for r in rows if r[1] is not None]
        out["by"][label] = {
            "requests": len(rows), "per_s": round(len(rows) / wall, 1),
            "p50_ms": round(percentile(client_ms, 50), 1), "p95_ms": round(percentile(client_ms, 95), 1),
            "server_p50_ms": round(percentile(server, 50), 1), "server_p95_ms": round(percentile(server, 95), 1)}
    return out


def _service_request(run: str, n: int, i: int, patients, codes) -> bytes:
    patient = patients[(n * 7 + i) % len(patients)]
    return json.dumps({
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "priority": ("routine", "routine", "urgent", "asap")[i % 4],
        "identifier": [{"system": "urn:bench:referral", "value": f"{run}-{n}-{i}"}],
        "subject": {"reference": f"Patient/{patient.pk}"}, "code": {"coding": [{"code": codes[i % len(codes)]}]},
        "reasonCode": [{"text": "Bench referral"}],
        "requester": {"reference": "Practitioner/bench", "display": "Dr Bench"}}).encode()


def _drop_flow_jobs(after_pk: int, referrals: set[int]) -> int:
    """No worker ran: the flow-start jobs the bench's referrals enqueued (with the referral) would otherwise be the
    first work of the next bench that starts one. Only those messages go (their argument is the referral id)."""
    from django_q.models import OrmQ

    mine = [m.pk for m in OrmQ.objects.filter(pk__gt=after_pk)
            if m.task.get("func") == "referrals.work.start_flow_job" and tuple(m.task.get("args") or ())[:1]
            and m.task["args"][0] in referrals]
    OrmQ.objects.filter(pk__in=mine).delete()
    return len(mine)


def api_bench(*, seconds: float | None = None) -> dict:
    from django.conf import settings
    from django.db.models import Max
    from django.utils import timezone
    from django_q.models import OrmQ

    from referrals.models import Referral

    seconds = seconds or float(os.environ.get("BENCH_API_SECONDS", "20"))
    token, data = bench_partner()
    patients, codes = data["patients"], data["codes"]
    run = uuid.uuid4().hex[:8]
    jobs_before = OrmQ.objects.aggregate(m=Max("pk"))["m"] or 0
    fhir = {"Content-Type": "application/fhir+json"}

    def post(n, i):
        return ("POST ServiceRequest", "POST", "/fhir/r4/ServiceRequest", _service_request(run, n, i, patients, codes),
                {**fhir, "Idempotency-Key": f"{run}-{n}-{i}"})

    def floor(n, i):
        return ("floor", "POST", "/api/bench/floor", _service_request(run, n, i, patients, codes), fhir)

    day = timezone.localdate() + timedelta(days=1)
    lists = [
        ("/api/v1/referrals", "/api/v1/referrals"),
        ("/api/v1/appointments", "/api/v1/appointments"),
        ("/api/v1/tasks", "/api/v1/tasks"),
        ("/fhir/r4/ServiceRequest?patient=", None),
        ("/fhir/r4/Slot?service-type=&start=ge&start=lt", None),
    ]

    def listing(n, i):
        label, path = lists[(n + i) % len(lists)]
        if label.startswith("/fhir/r4/ServiceRequest"):
            path = f"/fhir/r4/ServiceRequest?patient=Patient/{patients[i % len(patients)].pk}"
        elif label.startswith("/fhir/r4/Slot"):
            path = "/fhir/r4/Slot?" + urlencode([("service-type", codes[i % len(codes)]),
                                                 ("start", f"ge{day.isoformat()}"),
                                                 ("start", f"lt{(day + timedelta(days=14)).isoformat()}")])
        return label, "GET", path, None, None

    count = workers()
    # The bench's own secret key, so that it can read (and then drop) the job messages the server signs with it.
    with gunicorn(workers=count, urlconf="bench.urls", env={"SECRET_KEY": settings.SECRET_KEY}) as base:
        _link_patients(base, token, patients)
        posts = _load(base, token, seconds, post)
        floors = _load(base, token, seconds, floor)
        listed = _load(base, token, seconds, listing)
    created = Referral.objects.filter(partner__identifier="BENCH-PARTNER", external_identifier__startswith=run)
    dropped = _drop_flow_jobs(jobs_before, set(created.values_list("pk", flat=True)))
    created = created.count()
    p, f = posts["by"]["POST ServiceRequest"], floors["by"]["floor"]
    return {
        "gunicorn_workers": count, "clients": CLIENTS, "seconds": seconds,
        "db_conn_max_age": os.environ.get("DB_CONN_MAX_AGE", "60 (DEBUG off)"),
        "post": p, "post_statuses": posts["statuses"], "referrals_created": created,
        "floor": f, "floor_statuses": floors["statuses"],
        "ratio": round(p["per_s"] / f["per_s"], 3) if f["per_s"] else None, "goal": GOAL,
        "met": bool(f["per_s"]) and p["per_s"] / f["per_s"] >= GOAL,  # unrounded: 0.296 is not 0.3
        "lists": listed["by"], "list_statuses": listed["statuses"],
        "partner_referrals": Referral.objects.filter(partner__identifier="BENCH-PARTNER").count(),
        "flow_jobs_dropped": dropped,
    }
