"""Straight-through throughput: referrals per second from intake to booked, with the real worker running."""

import os
import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .drills import _patients, database_url, sandbox_call, start_worker


def stp_throughput(*, n: int, sandbox_url: str, timeout: float = 300, log_path: Path | None = None,
                   workers: int = 2) -> dict:
    """n complete referrals for an auto-booked service with coverage in force and no prior auth: all must reach
    `booked` with zero human tasks. Timed from the first intake to the last booking."""
    import signal

    from referrals.models import Referral, WorkItem
    from referrals.services import referral_intake

    case = straight_through_case(n)
    service, sites, practice, actor = case["service"], case["sites"], case["practice"], case["actor"]
    patients, coverages = case["patients"], case["coverages"]
    sandbox_call(sandbox_url, "POST", "/_control/reset")
    from django_q.models import OrmQ

    # Flow starts that earlier benches' intakes left without a worker (the API section's) must not come first: they
    # are dropped, and those referrals wait for `find_orphans --start`. Jobs of flows already running are kept, and
    # the worker runs them before the clock starts: dropping them would leave their referrals with nothing to move
    # them on.
    from referrals.management.commands.find_orphans import START_FUNC, broker_tasks

    stale_ids = [pk for pk, task in broker_tasks() if task.get("func") == START_FUNC]
    stale = sum(OrmQ.objects.filter(pk__in=stale_ids[i:i + 10_000]).delete()[0] for i in range(0, len(stale_ids), 10_000))
    from dashboards.facts import refresh_facts

    refresh_facts(budget=float("inf"))  # the rollup caught up with earlier runs' events, as on an idle system
    # The worker starts first and the clock once it is idle: what earlier runs left it (their bookings' releases owe
    # the ERP a delivery each; the periodic jobs run at start) is not this run's straight-through work.
    # The production worker: DEBUG off (no per-query log, persistent database connections), its timeout and lease.
    worker = start_worker(sandbox_url, database_url(), log_path or Path("/tmp/healthops-stp-worker.log"),
                          Q_TIMEOUT="60", Q_RETRY="90", Q_WORKERS=str(workers), DEBUG="0",
                          SECRET_KEY=settings.SECRET_KEY)  # the key its broker messages are signed with
    backlog = _due_deliveries()
    time.sleep(5)  # the cluster's start, and the periodic jobs it enqueues as it starts
    settle_by = time.monotonic() + 180
    while (_due_deliveries() or OrmQ.objects.exists()) and time.monotonic() < settle_by:
        time.sleep(0.5)
    cpu_before = _cpu_by_part(worker.pid)
    started = time.monotonic()
    ids = []
    for i, (patient, coverage) in enumerate(zip(patients, coverages, strict=True)):
        with transaction.atomic():
            ids.append(referral_intake(actor=actor, referring_organization=practice, site=sites[i % len(sites)],
                                       reason="Bench referral", source_channel="fhir-api", patient=patient,
                                       coverage=coverage, service_type=service).pk)

    def booked() -> int:
        return Referral.objects.filter(pk__in=ids, stage="booked").count()

    while booked() < n and time.monotonic() - started < timeout:
        time.sleep(0.2)
    seconds = time.monotonic() - started
    cpu = {part: used - cpu_before.get(part, 0.0) for part, used in _cpu_by_part(worker.pid).items()}
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except Exception:  # noqa: BLE001 - a worker slow to stop must not lose the figures
        os.killpg(worker.pid, signal.SIGKILL)
    done = booked()
    release_bench_bookings()
    return {"referrals": n, "booked": done, "human_tasks": WorkItem.objects.filter(referral_id__in=ids).count(),
            "seconds": round(seconds, 1), "referrals_per_second": round(done / seconds, 1), "service": service.code,
            "workers": workers, "worker_settings": "DEBUG off, DB_CONN_MAX_AGE=60", "stale_messages_dropped": stale,
            "outbox_backlog_drained_first": backlog,
            "cpu_ms_per_referral": {part: round(1000 * used / max(done, 1), 1) for part, used in cpu.items()},
            "cores_busy": round(sum(cpu.values()) / seconds, 2)}


def _cpu_by_part(worker_pgid: int) -> dict[str, float]:
    """CPU seconds used so far by the worker (its cluster's processes), PostgreSQL (all its processes on this
    machine) and this process (the bench's intake and the sandbox's threads)."""
    used = {"worker": 0.0, "postgresql": 0.0, "bench+sandbox": time.process_time()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, group, seconds = process_cpu(int(stat.parent.name))
        except (OSError, ValueError):  # gone meanwhile
            continue
        if group == worker_pgid:
            used["worker"] += seconds
        elif name.startswith("postgres"):
            used["postgresql"] += seconds
    return used


def process_cpu(pid: int) -> tuple[str, int, float]:
    """(command name, process group, CPU seconds used: user + system) of a process on this machine, from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text.rsplit(")", 1)[1].split()
    return (text[text.index("(") + 1:text.rindex(")")], int(fields[2]),
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))


def _due_deliveries() -> int:
    from django.utils import timezone

    from healthops.models import Delivery

    return Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now()).count()


def straight_through_case(n: int) -> dict:
    """n patients with coverage in force for the first auto-booked service that needs no documents and, with the
    chosen payer, no prior authorization; the sites that offer it; the referring practice; the system actor."""
    from authorizations.models import Payer, PayerRule
    from authorizations.services import coverage_create
    from healthops.audit import system_user
    from healthops.models import Organization
    from scheduling.models import ServiceType
    from scheduling.slots import site_plans

    service = (ServiceType.objects.filter(auto_book=True, required_documents__isnull=True, capacity=1)
               .order_by("code").first())
    payer = next(p for p in Payer.objects.order_by("pk")
                 if not PayerRule.objects.filter(payer=p, service_type=service, prior_auth_required=True).exists()
                 and not PayerRule.objects.filter(payer=p, service_type=service, required_documents__isnull=False).exists())
    actor = system_user()
    tag = f"STP{time.time_ns() % 10**8}"
    patients = _patients(n, tag)
    coverages = [coverage_create(patient=p, payer=payer, member_id=f"TEST-ACTIVE-{tag}-{i}",
                                 period_start=date(2026, 1, 1), actor=actor) for i, p in enumerate(patients)]
    return {"service": service, "sites": [plan.site for plan in site_plans(service, None)], "actor": actor,
            "practice": Organization.objects.filter(kind="practice").order_by("pk").first(),
            "patients": patients, "coverages": coverages}


def release_bench_bookings() -> int:
    """Cancel what straight-through runs booked (their patients are DRILL-STP...), so the next run finds the same free
    calendar instead of a fuller one each time."""
    from healthops.audit import system_user
    from scheduling.models import Appointment
    from scheduling.services import appointment_transition

    held = Appointment.objects.filter(patient__mrn__startswith="DRILL-STP",
                                      status__in=[Appointment.Status.BOOKED, Appointment.Status.PENDING,
                                                  Appointment.Status.PROPOSED])
    actor, count = system_user(), 0
    for appointment in list(held):  # not a cursor: event reactions may enqueue jobs, which reconnects
        with transaction.atomic():
            appointment_transition(appointment=appointment, to_status=Appointment.Status.CANCELLED, actor=actor,
                                   reason=Appointment.CancelReason.PROVIDER, text="Benchmark booking released")
        count += 1
    return count
