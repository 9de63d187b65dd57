"""The ReferralFlow's gateways write their task once, when they have routed, and keep the flow's task graph whole."""

import pytest
from viewflow.workflow.status import STATUS

from referrals.management.commands.find_orphans import orphans
from referrals.models import ReferralProcess

from .test_flow import referral_for, run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def test_each_gateway_task_is_done_and_linked_between_the_steps_around_it(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-ACTIVE-41"), django_capture_on_commit_callbacks)
    assert referral.stage == "booked", referral.stage_reason
    process = ReferralProcess.objects.get(referral=referral)
    gateways = list(process.task_set.filter(flow_task_type__in=["SWITCH", "EXCLUSIVE_GATEWAY"]).order_by("pk"))
    assert [g.flow_task.name for g in gateways] == ["route", "is_eligible", "is_booked", "booked_by_override"]
    for gateway in gateways:
        assert gateway.status == STATUS.DONE and gateway.finished is not None
        assert gateway.previous.count() == 1  # the step that reached it
        assert gateway.leading.count() == 1  # the step it routed to (the last one: the end)
    assert [t.flow_task.name for t in gateways[0].leading.all()] == ["eligibility"]


def test_an_error_in_a_condition_after_a_job_is_kept_on_the_gateway_task_and_find_orphans_lists_it(
        network, monkeypatch, django_capture_on_commit_callbacks):
    from referrals.flows import ReferralFlow

    def unreadable(activation):
        raise RuntimeError("coverage facts unreadable")

    gateway = ReferralFlow.is_eligible
    monkeypatch.setattr(gateway, "_activate_next", [(node, unreadable) for node, _ in gateway._branches[:1]]
                        + gateway._branches[1:])
    referral = run(referral_for(network, "TEST-ACTIVE-42"), django_capture_on_commit_callbacks)
    process = ReferralProcess.objects.get(referral=referral)
    stuck = process.task_set.get(flow_task_type="SWITCH", status=STATUS.ERROR)
    assert stuck.flow_task.name == "is_eligible" and stuck.finished is not None
    assert "coverage facts unreadable" in stuck.data["_exception"]["title"]
    assert [t.flow_task.name for t in stuck.previous.all()] == ["eligibility"]
    assert [p.orphan_reason for p in orphans() if p.pk == process.pk] == ["is_eligible is in ERROR"]
