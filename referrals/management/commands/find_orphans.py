"""`manage.py find_orphans [--start]`: referrals that nobody and nothing is working on."""

from django.core.management.base import BaseCommand
from django.db import transaction
from viewflow.workflow.status import PROCESS, STATUS

from referrals.models import Referral, ReferralProcess

WAITING = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED, STATUS.SCHEDULED, STATUS.ERROR)


def orphans():
    """Open referrals whose flow runs but holds no open human task and no pending job."""
    from referrals.flows import ReferralFlow

    running = ReferralProcess.objects.filter(referral__stage__in=Referral.OPEN_STAGES).exclude(
        status__in=[PROCESS.DONE, PROCESS.CANCELED])
    busy = set(ReferralFlow.task_class.objects.filter(process__in=running, status__in=WAITING)
               .values_list("process_id", flat=True))
    return [p for p in running.select_related("referral") if p.pk not in busy]


def without_flow():
    """Open referrals with no flow and no start job waiting in the broker (referrals.work.referral_start_flow_later)."""
    return Referral.objects.filter(stage__in=Referral.OPEN_STAGES, process__isnull=True).exclude(pk__in=pending_starts())


def pending_starts() -> set[int]:
    from django_q.models import OrmQ

    starts = set()
    for message in OrmQ.objects.all():
        task = message.task or {}
        if task.get("func") == "referrals.work.start_flow_job" and task.get("args"):
            starts.add(task["args"][0])
    return starts


class Command(BaseCommand):
    help = "List open referrals with neither an open task nor a pending job; --start puts flow-less ones in the flow."

    def add_arguments(self, parser):
        parser.add_argument("--start", action="store_true", help="Start the ReferralFlow for open referrals without one.")

    def handle(self, *args, start: bool, **options):
        from healthops.audit import acting_as
        from referrals.work import referral_start_flow

        found = orphans()
        for process in found:
            self.stdout.write(f"R-{process.referral_id}: flow {process.pk} is {process.status} with nothing open "
                              f"(stage {process.referral.stage})")
        self.stdout.write(f"{len(found)} orphaned referral(s).")
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
        if found and not start:
            raise SystemExit(1)  # for monitoring: a non-zero exit when something sits unattended
