"""Failure drills against the real sandbox: they inject faults, kill workers and take the ERP down, then count.

Each drill returns a dict of figures; `make bench` prints them and the tests run smaller versions of the same code.
Run inside a configured Django (DATABASE_URL), with the sandbox reachable at `sandbox_url`.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.db import connection
from django.db.models import Count
from django.test.utils import override_settings

ROOT = Path(__file__).resolve().parent.parent


def sandbox_call(base: str, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def drill_settings(sandbox_url: str, **extra):
    return override_settings(
        PAYER_URL=f"{sandbox_url}/payer", ERP_URL=f"{sandbox_url}/erp",
        INTEGRATIONS={"TIMEOUT_SECONDS": 0.5, "MAX_ATTEMPTS": 3, "BACKOFF_BASE_SECONDS": 0.02,
                      "BACKOFF_MAX_SECONDS": 0.2, "FAILURE_THRESHOLD": 5, "OPEN_SECONDS": 1.0},
        **extra)


def _payer(tag: str):
    from authorizations.models import Payer
    from healthops.models import Organization

    org, _ = Organization.objects.get_or_create(identifier=f"DRILL-{tag}",
                                                defaults={"name": f"Drill payer {tag}", "kind": "payer"})
    payer, _ = Payer.objects.get_or_create(organization=org, defaults={
        "identifier": f"PAYER-DRILL-{tag}", "name": org.name, "sandbox_key": f"drill-{tag.lower()}"})
    return payer


def _patients(n: int, tag: str):
    from healthops.models import Patient, Site

    site = Site.objects.order_by("pk").first()
    existing = Patient.objects.filter(mrn__startswith=f"DRILL-{tag}-").count()
    Patient.objects.bulk_create([
        Patient(mrn=f"DRILL-{tag}-{i:06d}", given_name="Drill", family_name=f"Patient{i}", birth_date=date(1980, 1, 1),
                home_site=site) for i in range(existing, n)])
    return list(Patient.objects.filter(mrn__startswith=f"DRILL-{tag}-").order_by("mrn")[:n])


def _coverages(n: int, tag: str, member_prefix: str):
    from authorizations.services import coverage_create
    from healthops.audit import system_user

    payer = _payer(tag)
    actor = system_user()
    out = []
    for i, patient in enumerate(_patients(n, tag)):
        member = f"{member_prefix}{tag}-{i:06d}"
        cov = patient.coverages.filter(payer=payer).first() or coverage_create(
            patient=patient, payer=payer, member_id=member, period_start=date(2026, 1, 1), actor=actor)
        out.append(cov)
    return out


def eligibility_drill(*, n: int, sandbox_url: str, error_rate: float = 0.15, timeout_rate: float = 0.15,
                      tag: str = "ELIG", max_rounds: int = 30) -> dict:
    """(a) n eligibility checks while 30% of payer answers are 5xx or time out. Every coverage must end with a
    definitive answer (in force / not), none lost, and no answer recorded twice."""
    from authorizations.models import EligibilityCheck
    from authorizations.payer import eligibility_check, retry_unreachable_eligibility
    from healthops.audit import system_user

    coverages = _coverages(n, tag, "TEST-ACTIVE-")
    sandbox_call(sandbox_url, "POST", "/_control/reset")
    sandbox_call(sandbox_url, "POST", "/_faults", {"endpoint": "payer.eligibility", "error_rate": error_rate,
                                                    "timeout_rate": timeout_rate, "timeout_seconds": 1.0, "seed": 7})
    actor = system_user()
    started = time.monotonic()
    with drill_settings(sandbox_url):
        for coverage in coverages:
            eligibility_check(coverage=coverage, actor=actor)
        ids = [c.pk for c in coverages]
        first_pass = _definitive(ids)
        rounds = 0
        while _definitive(ids) < n and rounds < max_rounds:
            rounds += 1
            time.sleep(1.1)  # let an open circuit half-open
            retry_unreachable_eligibility(actor=actor, older_than=timedelta(0), limit=n)
    seconds = time.monotonic() - started
    checks = EligibilityCheck.objects.filter(coverage_id__in=ids)
    duplicates = checks.values("payer_reference").annotate(c=Count("pk")).filter(c__gt=1).count()
    stats = sandbox_call(sandbox_url, "GET", "/_control/stats")
    sandbox_call(sandbox_url, "DELETE", "/_faults")
    return {"checks": n, "definitive_first_pass": first_pass, "definitive_after_retries": _definitive(ids),
            "lost": n - checks.values("coverage_id").distinct().count(), "duplicate_records": duplicates,
            "retry_rounds": rounds, "payer_requests": stats["eligibility_requests"],
            "faults_injected": sum(stats["faults_injected"].values()), "seconds": round(seconds, 1)}


def _definitive(coverage_ids: list[int]) -> int:
    from django.db.models import OuterRef, Subquery

    from authorizations.models import Coverage, EligibilityCheck

    latest = EligibilityCheck.objects.filter(coverage=OuterRef("pk")).order_by("-checked_at", "-pk")
    return (Coverage.objects.filter(pk__in=coverage_ids)
            .annotate(last=Subquery(latest.values("outcome")[:1]))
            .filter(last__in=["in-force", "not-in-force", "member-unknown"]).count())


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("The worker drill needs PostgreSQL (a worker process shares the database).")
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(sandbox_url: str, db_url: str, log_path: Path, **overrides: str) -> subprocess.Popen:
    """A qcluster with 2 workers; the drills' short timeout and retry lease (a killed job comes back in seconds)
    unless `overrides` say otherwise."""
    env = {**os.environ, "DATABASE_URL": db_url, "SANDBOX_URL": sandbox_url, "Q_WORKERS": "2", "Q_RETRY": "6",
           "Q_TIMEOUT": "5", "INTEGRATION_TIMEOUT_SECONDS": "2", "INTEGRATION_BACKOFF_BASE_SECONDS": "0.05",
           "LOG_LEVEL": "WARNING", **overrides}
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def worker_kill_drill(*, n: int, sandbox_url: str, kill_after_fraction: float = 0.3, tag: str = "KILL",
                      timeout: float = 180, log_path: Path | None = None) -> dict:
    """(b) n prior-authorization submissions as background jobs; the worker is killed with SIGKILL mid-batch and a
    new one started. Every authorization must be decided exactly once in effect: the sandbox counts submissions
    per idempotency key and must have created exactly one authorization for each."""
    from django_q.tasks import async_task

    from authorizations.models import Authorization
    from authorizations.services import authorization_create
    from healthops.audit import system_user
    from healthops.models import Event
    from scheduling.models import ServiceType

    db_url = database_url()
    log_path = log_path or Path("/tmp/healthops-drill-worker.log")
    sandbox_call(sandbox_url, "POST", "/_control/reset")
    # Slow answers, so the kill lands while work is in flight.
    sandbox_call(sandbox_url, "POST", "/_faults", {"endpoint": "payer.submit", "latency_ms": 80})
    service = ServiceType.objects.order_by("pk").first()
    actor = system_user()
    auths = [authorization_create(coverage=c, service_type=service, actor=actor)
             for c in _coverages(n, tag, "TEST-ACTIVE-")]
    ids = [a.pk for a in auths]
    for pk in ids:
        async_task("authorizations.tasks.submit_authorization", pk, q_options={"task_name": f"drill-submit-{pk}"})
    started = time.monotonic()
    worker = start_worker(sandbox_url, db_url, log_path)

    def decided() -> int:
        return Authorization.objects.filter(pk__in=ids).exclude(status="draft").count()

    while decided() < n * kill_after_fraction and time.monotonic() - started < timeout:
        time.sleep(0.05)
    done_at_kill = decided()
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    worker = start_worker(sandbox_url, db_url, log_path)
    while decided() < n and time.monotonic() - started < timeout:
        time.sleep(0.2)
    seconds = time.monotonic() - started
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
    stats = sandbox_call(sandbox_url, "GET", "/_control/stats")
    sandbox_call(sandbox_url, "DELETE", "/_faults")
    keys = {k: v for k, v in stats["submissions"].items() if "HO-AUTH-" in k}
    submitted_events = (Event.objects.filter(type="org.healthops.authorization.submitted.v1",
                                             subject__in=[f"authorization/{pk}" for pk in ids])
                        .values("subject").annotate(c=Count("pk")))
    return {"jobs": n, "decided_when_killed": done_at_kill, "decided": decided(),
            "approved": Authorization.objects.filter(pk__in=ids, status="approved").count(),
            "payer_authorizations_created": stats["authorizations_created"],
            "requests_resent_after_kill": sum(v - 1 for v in keys.values() if v > 1),
            "duplicate_effects": stats["authorizations_created"] - n + sum(1 for r in submitted_events if r["c"] > 1),
            "seconds": round(seconds, 1)}


def erp_outage_drill(*, appointments: int, outage_seconds: float, sandbox_url: str, tag: str = "ERP") -> dict:
    """(c) the ERP is down for `outage_seconds` while appointments are booked and cancelled; the outbox keeps
    delivering (in-process loop standing in for the worker). Afterwards every event must be in the ERP, in order
    per subject, none lost, none accepted twice."""
    from healthops.audit import system_user
    from healthops.models import Delivery, Event, Resource, Site
    from healthops.outbox import deliver_pending
    from scheduling.models import ServiceType
    from scheduling.services import appointment_book, appointment_transition

    sandbox_call(sandbox_url, "POST", "/_control/reset")
    actor = system_user()
    site = Site.objects.order_by("pk").first()
    service = ServiceType.objects.order_by("pk").first()
    room = Resource.objects.create(kind="room", name=f"Drill room {time.time_ns()}", site=site)
    patients = _patients(appointments, tag)
    base = datetime(2031, 1, 6, 14, tzinfo=UTC) + timedelta(days=Event.objects.count() % 1000)
    first_event = Event.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    started = time.monotonic()
    with drill_settings(sandbox_url, OUTBOX_BACKOFF_SECONDS=0.5, OUTBOX_MAX_ATTEMPTS=50):
        Delivery.objects.filter(status="pending").update(status="dead")  # only this drill's events are counted
        sandbox_call(sandbox_url, "POST", "/_faults", {"endpoint": "erp.events", "outage_seconds": outage_seconds})
        spacing = outage_seconds / max(appointments, 1)
        for i, patient in enumerate(patients):
            appointment = appointment_book(patient=patient, service_type=service, site=site, actor=actor,
                                           start=base + timedelta(hours=i), resources=[room])
            if i % 3 == 0:
                appointment_transition(appointment=appointment, to_status="cancelled", reason="patient", actor=actor)
            deliver_pending(batch=200)
            time.sleep(spacing * 0.8)
        while Delivery.objects.filter(status="pending", event__sequence__gt=first_event).exists():
            deliver_pending(batch=500)
            time.sleep(0.2)
            if time.monotonic() - started > outage_seconds + 300:
                break
    seconds = time.monotonic() - started
    ours = list(Event.objects.filter(sequence__gt=first_event, type__startswith="org.healthops.appointment.")
                .order_by("sequence").values_list("id", "subject"))
    received = sandbox_call(sandbox_url, "GET", "/erp/events")
    received = received["events"] if isinstance(received, dict) else received
    got = [(e["id"], e.get("subject")) for e in received]
    got_ids = [i for i, _ in got]
    expected_ids = {str(i) for i, _ in ours}
    in_order = all(
        [str(i) for i, s in ours if s == subject] == [i for i, s2 in got if s2 == subject]
        for subject in {s for _, s in ours})
    stats = sandbox_call(sandbox_url, "GET", "/_control/stats")
    sandbox_call(sandbox_url, "DELETE", "/_faults")
    return {"events": len(ours), "delivered": len(expected_ids & set(got_ids)), "lost": len(expected_ids - set(got_ids)),
            "accepted_twice": len(got_ids) - len(set(got_ids)), "resent_and_deduped": stats["erp_duplicates"],
            "in_order_per_subject": in_order, "outage_seconds": outage_seconds, "seconds_to_drain": round(seconds, 1)}
