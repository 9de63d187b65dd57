"""`find_orphans` lists what nothing will move on: a job no broker message will run, a routing step stuck in ERROR."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from viewflow.workflow.status import STATUS

from referrals.management.commands.find_orphans import orphans, pending_jobs
from referrals.models import ReferralProcess
from referrals.qjob import run_job
from referrals.work import referral_start_flow

from .test_flow import referral_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_enqueue(network, django_capture_on_commit_callbacks):
    """A referral whose eligibility job is SCHEDULED but whose broker message was never written (the process
    died between the commit and the enqueue after it)."""
    referral = referral_for(network, "TEST-ACTIVE-40")
    with django_capture_on_commit_callbacks(execute=False):
        referral_start_flow(referral=referral)
    process = ReferralProcess.objects.get(referral=referral)
    job = process.task_set.get(status=STATUS.SCHEDULED)
    assert job.flow_task.name == "eligibility" and not OrmQ.objects.exists()
    return referral, process, job


def find(*args):
    out = StringIO()
    try:
        call_command("find_orphans", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return out.getvalue(), code


def test_a_job_without_its_message_is_listed_once_older_than_the_lease_and_requeue_runs_it(
        lost_enqueue, monkeypatch, django_capture_on_commit_callbacks):
    referral, process, job = lost_enqueue
    assert orphans() == []  # young: its message may be on its way
    process.task_set.filter(pk=job.pk).update(created=timezone.now() - timedelta(hours=1))

    found = orphans()
    assert [p.pk for p in found] == [process.pk] and found[0].stalled_jobs[0].pk == job.pk
    text, code = find()
    assert code == 1 and "job eligibility SCHEDULED since" in text and "with no broker message" in text

    text, code = find("--requeue")
    assert code == 0 and "Requeued 1 stalled job(s)." in text
    assert pending_jobs() == {job.pk} and orphans() == []

    monkeypatch.setattr(Conf, "SYNC", True)
    message = OrmQ.objects.get().task
    with django_capture_on_commit_callbacks(execute=True):
        run_job(*message["args"])
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason


def test_a_routing_step_stuck_in_error_is_listed_and_requeue_cannot_mend_it(lost_enqueue):
    referral, process, job = lost_enqueue
    process.task_set.filter(pk=job.pk).update(status=STATUS.CANCELED)
    route = process.task_set.get(flow_task_type="SWITCH")  # the gateway that routed it to eligibility
    process.task_set.filter(pk=route.pk).update(status=STATUS.ERROR)

    assert [p.orphan_reason for p in orphans()] == [f"{route.flow_task.name} is in ERROR"]
    text, code = find("--requeue")
    assert code == 1 and "Requeued 0 stalled job(s)." in text and f"R-{referral.pk}: {route.flow_task.name}" in text
