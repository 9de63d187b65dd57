"""A referral booked under the "book before the payer decides" override waits for the decision in the flow; a
denial that arrives after the booking opens a task for a person (appeal, keep or cancel)."""

from datetime import date, timedelta

import pytest
from viewflow.workflow.status import STATUS

from authorizations.payer import appeal_record_outcome
from authorizations.services import authorization_record_decision
from healthops.audit import system_user
from referrals import task_actions
from referrals.models import ReferralProcess, WorkItem
from referrals.tasks import flow_dispatch
from referrals.work import auth_pending_override, open_task
from scheduling.models import Appointment

from .test_flow import referral_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


@pytest.fixture
def booked_by_override(network, authspecialist, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-PEND-OVR", prior_auth=True), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        auth_pending_override(task=open_task(referral, "auth_follow_up"), actor=authspecialist,
                              reason_code="clinical-urgency", justification="Suspected fracture, cannot wait")
    referral.refresh_from_db()
    assert referral.stage == "booked"
    return referral


def process_of(referral):
    return ReferralProcess.objects.get(referral=referral)


def decide(referral, code, **kw):
    auth = referral.authorizations.get()
    return authorization_record_decision(authorization=auth, decision_code=code, actor=system_user(), **kw)


def test_the_flow_waits_for_the_decision_and_nothing_is_orphaned(booked_by_override):
    from referrals.management.commands.find_orphans import orphans

    process = process_of(booked_by_override)
    assert process.status != STATUS.DONE
    waiting = process.task_set.get(flow_task_type="CONDITION")
    assert waiting.status == STATUS.NEW and waiting.flow_task.name == "await_payer"
    assert flow_dispatch() == 0  # still pended
    assert booked_by_override.pk not in [p.referral_id for p in orphans()]


def test_approval_after_the_booking_ends_the_flow_without_a_task(booked_by_override):
    decide(booked_by_override, "A1", auth_number="AUTH-1", valid_from=date.today(),
           valid_to=date.today() + timedelta(days=90), units_approved=1)
    assert process_of(booked_by_override).status == STATUS.DONE
    assert open_task(booked_by_override, "denied_after_booking") is None


def test_denial_after_the_booking_opens_a_task_and_cancelling_closes_the_case(booked_by_override, authspecialist):
    decide(booked_by_override, "A3", denial_reason="Not medically necessary")
    task = open_task(booked_by_override, "denied_after_booking")
    assert task is not None and task.owner_permission == "referrals.can_work_authorizations"
    item = WorkItem.objects.get(task=task)
    assert "after the appointment was booked" in item.reason

    task_actions.cancel_after_denial(task=task, actor=authspecialist, data={"reason": "Patient declined to self-pay"})
    booked_by_override.refresh_from_db()
    assert booked_by_override.stage == "closed"
    assert set(booked_by_override.appointments.values_list("status", flat=True)) == {Appointment.Status.CANCELLED}
    assert process_of(booked_by_override).status == STATUS.DONE


def test_keeping_the_booking_after_a_denial(booked_by_override, authspecialist):
    decide(booked_by_override, "A3", denial_reason="Not covered")
    task_actions.keep_booking(task=open_task(booked_by_override, "denied_after_booking"), actor=authspecialist,
                              data={"reason": "Patient agreed to pay"})
    booked_by_override.refresh_from_db()
    assert booked_by_override.stage == "booked"
    assert booked_by_override.appointments.filter(status=Appointment.Status.BOOKED).count() == 1
    assert process_of(booked_by_override).status == STATUS.DONE


def test_an_appeal_waits_again_and_an_upheld_denial_comes_back(booked_by_override, authspecialist):
    decide(booked_by_override, "A3", denial_reason="Not covered")
    task_actions.appeal(task=open_task(booked_by_override, "denied_after_booking"), actor=authspecialist,
                        data={"grounds": "Imaging shows a displaced fracture; surgery is urgent."})
    assert open_task(booked_by_override, "denied_after_booking") is None
    assert process_of(booked_by_override).task_set.filter(flow_task_type="CONDITION", status=STATUS.NEW).count() == 1
    appeal = booked_by_override.authorizations.get().appeals.get()
    appeal_record_outcome(appeal=appeal, outcome="upheld", actor=authspecialist)
    assert open_task(booked_by_override, "denied_after_booking") is not None


def test_the_task_page_offers_appeal_keep_and_cancel(booked_by_override, authspecialist, client):
    from django.urls import reverse

    decide(booked_by_override, "A3", denial_reason="Not covered")
    task = open_task(booked_by_override, "denied_after_booking")
    client.force_login(authspecialist)
    page = client.get(reverse("queues:task", args=[task.pk]))
    assert page.status_code == 200
    for label in (b"Denied after booking", b"Send appeal", b"Keep the booking", b"Cancel the appointment and close"):
        assert label in page.content
    assert client.post(reverse("queues:act", args=[task.pk, "keep"]), {"reason": ""}).status_code == 400
    assert open_task(booked_by_override, "denied_after_booking") is not None
    done = client.post(reverse("queues:act", args=[task.pk, "keep"]), {"reason": "Patient agreed to pay"})
    assert done.status_code == 302
    assert open_task(booked_by_override, "denied_after_booking") is None
