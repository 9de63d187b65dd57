"""`manage.py find_orphans [--start] [--requeue]`: referrals that nobody and nothing is working on."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from viewflow.workflow.status import PROCESS, STATUS

from referrals.models import Referral, ReferralProcess

OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED, STATUS.SCHEDULED)
JOB_RUNNING = (STATUS.SCHEDULED, STATUS.STARTED)


def orphans(*, now=None):
    """Open referrals whose flow runs but holds no open human task and no pending job. Each process carries
    `orphan_reason`, and `stalled_jobs`: its job tasks that no broker message will run (requeue them)."""
    from django_q.conf import Conf

    from referrals.flows import ReferralFlow
    from referrals.qjob import QJob

    # A job is pending while its broker message exists; without one (the enqueue after commit was lost, or a
    # delivery failed for good) it is stalled once it is older than the retry lease (before that, its message may
    # not be written yet).
    stale_before = (now or timezone.now()) - timedelta(seconds=(Conf.RETRY or 60) * 2)
    queued = pending_jobs()
    running = ReferralProcess.objects.filter(referral__stage__in=Referral.OPEN_STAGES).exclude(
        status__in=[PROCESS.DONE, PROCESS.CANCELED])
    busy, stuck, stalled = set(), {}, {}
    for task in ReferralFlow.task_class.objects.filter(process__in=running).exclude(
            status__in=[STATUS.DONE, STATUS.CANCELED, STATUS.REVIVED]).only(
            "pk", "process_id", "flow_task", "status", "created", "started"):
        node = task.flow_task
        if task.status == STATUS.ERROR:  # a gateway or a job whose error did not route on: nothing will move it
            stuck.setdefault(task.process_id, f"{_name(node)} is in ERROR")
        elif isinstance(node, QJob) and task.status in JOB_RUNNING and task.pk not in queued \
                and (task.started or task.created) < stale_before:
            stalled.setdefault(task.process_id, []).append(task)
        elif task.status in OPEN:
            busy.add(task.process_id)
    found = []
    for process in running.exclude(pk__in=busy).select_related("referral"):
        jobs = stalled.get(process.pk, [])
        process.stalled_jobs = jobs
        if jobs:
            process.orphan_reason = ", ".join(f"job {_name(t.flow_task)} {t.status} since "
                                              f"{(t.started or t.created):%Y-%m-%d %H:%M} with no broker message"
                                              for t in jobs)
        else:
            process.orphan_reason = stuck.get(process.pk, f"flow {process.status} with nothing open")
        found.append(process)
    return found


def _name(node) -> str:
    return getattr(node, "name", None) or str(node)


def without_flow():
    """Open referrals with no flow and no start job waiting in the broker (referrals.work.referral_start_flow_later)."""
    return Referral.objects.filter(stage__in=Referral.OPEN_STAGES, process__isnull=True).exclude(pk__in=pending_starts())


START_FUNC, JOB_FUNC = "referrals.work.start_flow_job", "referrals.qjob.run_job"


def broker_tasks():
    """(message id, decoded task) of every message in the ORM broker: queued, claimed or held."""
    from django_q.models import OrmQ

    for message in OrmQ.objects.all():
        yield message.pk, message.task or {}


def pending_starts() -> set[int]:
    return {task["args"][0] for _, task in broker_tasks() if task.get("func") == START_FUNC and task.get("args")}


def pending_jobs() -> set[int]:
    """Flow task ids with a job message in the broker."""
    return {task["args"][2] for _, task in broker_tasks()
            if task.get("func") == JOB_FUNC and len(task.get("args") or ()) == 3}


class Command(BaseCommand):
    help = ("List open referrals with neither an open task nor a pending job; --start puts flow-less ones in the "
            "flow; --requeue hands stalled jobs to the broker again.")

    def add_arguments(self, parser):
        parser.add_argument("--start", action="store_true", help="Start the ReferralFlow for open referrals without one.")
        parser.add_argument("--requeue", action="store_true",
                            help="Enqueue again the jobs that no broker message will run (they resume where they were).")

    def handle(self, *args, start: bool, requeue: bool, **options):
        from viewflow.workflow.fields import get_task_ref

        from healthops.audit import acting_as
        from referrals.qjob import enqueue
        from referrals.work import referral_start_flow

        found = orphans()
        requeued = 0
        for process in found:
            self.stdout.write(f"R-{process.referral_id}: {process.orphan_reason} (flow {process.pk}, "
                              f"stage {process.referral.stage})")
            if requeue:
                for task in process.stalled_jobs:
                    enqueue(get_task_ref(task.flow_task), process.pk, task.pk)
                    requeued += 1
        self.stdout.write(f"{len(found)} orphaned referral(s).")
        if requeue:
            self.stdout.write(f"Requeued {requeued} stalled job(s).")
        missing = without_flow()
        if start:
            started = 0
            with acting_as():
                for referral in list(missing):  # not an iterator: inline jobs (Q_SYNC) close the connection
                    with transaction.atomic():
                        referral_start_flow(referral=referral)
                    started += 1
            self.stdout.write(f"Started the flow for {started} open referral(s) that had none.")
        else:
            self.stdout.write(f"{missing.count()} open referral(s) have no flow yet (run with --start).")
        if [p for p in found if not (requeue and p.stalled_jobs)] and not start:
            raise SystemExit(1)  # for monitoring: a non-zero exit when something sits unattended
