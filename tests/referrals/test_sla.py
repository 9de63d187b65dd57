"""SLA escalation: viewflow `.OnTimeout` timer boundaries on every human task, fired by the timer dispatcher."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from healthops.models import Event
from referrals import sla
from referrals.models import ReferralProcess, TaskSLA, WorkItem
from referrals.services import referral_document_add
from referrals.work import open_task, task_complete, task_hold

from .. import factories
from .test_flow import referral_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


def timer_of(item):
    return Task.objects.get(previous=item.task_id, flow_task_type="TIMER")


@pytest.fixture
def outreach(network, django_capture_on_commit_callbacks):
    TaskSLA.objects.update_or_create(task_type="outreach", priority="routine", defaults={"hours": 4})
    referral = run(referral_for(network, "TEST-ACTIVE-SLA", documents=["imaging-order"]),
                   django_capture_on_commit_callbacks)
    return WorkItem.objects.get(referral=referral, task_type="outreach")


def test_every_human_task_is_armed_with_its_sla_due_moment(outreach):
    timer = timer_of(outreach)
    assert timer.status == STATUS.SCHEDULED and timer.flow_task.name == "outreach__timeout"
    assert timer.scheduled == outreach.due_at
    assert outreach.due_at - outreach.created_at == timedelta(hours=4)


def test_breach_escalates_once_and_leaves_the_task_in_its_queue(outreach, coordinator, settings, tmp_path,
                                                                django_capture_on_commit_callbacks):
    assert sla.fire_due_timers() == 0  # not due yet
    with time_machine.travel(outreach.due_at + timedelta(minutes=1)):
        assert sla.fire_due_timers() == 1
        assert sla.fire_due_timers() == 0
    outreach.refresh_from_db()
    assert outreach.escalated_at is not None and outreach.completed_at is None
    assert outreach.task.status == STATUS.NEW  # non-interrupting: still in the team queue
    escalated = Event.objects.get(subject=outreach.referral.subject, type__contains="task.escalated")
    assert escalated.data["task_id"] == outreach.task_id

    # The case still goes on to booked, and the process finishes despite the escalation branch.
    settings.MEDIA_ROOT = tmp_path
    referral_document_add(referral=outreach.referral, kind=factories.document_kind("imaging-order"),
                          file=ContentFile(b"%PDF-1.4 order"), original_name="order.pdf", actor=coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=open_task(outreach.referral, "outreach"), actor=coordinator, outcome="Order received")
    outreach.referral.refresh_from_db()
    assert outreach.referral.stage == "booked"
    assert ReferralProcess.objects.get(referral=outreach.referral).status == STATUS.DONE


def test_a_finished_task_disarms_its_timer(outreach, coordinator, settings, tmp_path,
                                           django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    referral_document_add(referral=outreach.referral, kind=factories.document_kind("imaging-order"),
                          file=ContentFile(b"%PDF-1.4 order"), original_name="order.pdf", actor=coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=outreach.task, actor=coordinator, outcome="Order received")
    assert timer_of(outreach).status == STATUS.CANCELED
    with time_machine.travel(outreach.due_at + timedelta(hours=1)):
        assert sla.fire_due_timers() == 0
    assert not Event.objects.filter(type__contains="task.escalated").exists()


def test_a_hold_stops_the_clock_and_resuming_moves_the_due_moment(outreach, coordinator):
    from referrals.work import task_resume

    start = timezone.now()
    with time_machine.travel(start + timedelta(hours=1)):
        task_hold(task=outreach.task, actor=coordinator, event="referral.document-added")
    assert timer_of(outreach).scheduled == sla.PAUSED
    with time_machine.travel(start + timedelta(hours=30)):
        assert sla.fire_due_timers() == 0  # long past the original due moment, but held
        outreach.refresh_from_db()
        task_resume(item=outreach, actor=coordinator, why="test")
    outreach.refresh_from_db()
    assert timer_of(outreach).scheduled == outreach.due_at
    assert outreach.due_at - outreach.created_at >= timedelta(hours=4 + 28)
    with time_machine.travel(outreach.due_at + timedelta(minutes=1)):
        assert sla.fire_due_timers() == 1
