"""Straight-through throughput: consecutive flow jobs run in one worker without losing django-q2's at-least-once
delivery, and a straight-through referral costs a bounded number of queries (`make bench` measures the rate)."""

import pydoc
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from viewflow.workflow.status import STATUS

from authorizations.models import PayerRule
from authorizations.services import coverage_create
from healthops.audit import system_user
from healthops.models import IntegrationCall
from referrals.flows import ReferralFlow
from referrals.models import Referral, WorkItem
from referrals.work import referral_start_flow

from . import factories

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: no `except Exception` sees it."""


@pytest.fixture
def network(north, sandbox, settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # jobs go through the ORM broker, as on the real worker
    monkeypatch.setattr(Conf, "POLL", 0)  # an empty queue answers at once
    factories.point_at_sandbox(settings, sandbox)
    service = factories.bookable_clinic(north, auto_book=True)
    payer = factories.payer()
    PayerRule.objects.create(payer=payer, service_type=service, prior_auth_required=False)
    return {"site": north, "service": service, "payer": payer, "sandbox": sandbox}


def straight_through_referral(network, member: str) -> Referral:
    patient = factories.patient(network["site"], phone="555-0100")
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id=member,
                               period_start=date(2026, 1, 1), actor=system_user())
    return factories.referral(network["site"], patient, network["service"], coverage=coverage)


FLOW_JOB = "referrals.qjob.run_job"


def deliver_next(broker):
    """What a worker does with the next visible flow job: run it, then acknowledge it. None when nothing is visible.
    Other messages (the outbox's delivery runs) are acknowledged unrun: not what these tests are about."""
    while taken := broker.dequeue():
        [(ack_id, payload)] = taken
        package = SignedPackage.loads(payload)
        if package["func"] != FLOW_JOB:
            broker.acknowledge(ack_id)
            continue
        result = pydoc.locate(package["func"])(*package["args"], **package["kwargs"])
        broker.acknowledge(ack_id)
        return package["name"], result
    return None


def flow_messages():
    return [m for m in OrmQ.objects.all() if m.func() == FLOW_JOB]


def job_status(referral, name: str) -> str:
    return ReferralFlow.task_class.objects.get(process__referralprocess__referral=referral,
                                               flow_task=getattr(ReferralFlow, name)).status


def messages_sent(sandbox) -> int:
    body = sandbox.get("/messaging/messages").json
    return len(body["messages"] if isinstance(body, dict) else body)


def test_one_delivery_runs_the_consecutive_jobs_and_leaves_no_message(network, django_capture_on_commit_callbacks):
    referral = straight_through_referral(network, "TEST-ACTIVE-1")
    with django_capture_on_commit_callbacks(execute=True):
        referral_start_flow(referral=referral)
    broker = get_broker()
    assert len(flow_messages()) == 1  # eligibility
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_next(broker)[1] == "done"
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason
    assert [job_status(referral, n) for n in ("eligibility", "match", "notify")] == [STATUS.DONE] * 3
    assert ReferralFlow.process_class.objects.get(referral=referral).status == "DONE"
    assert flow_messages() == []  # the held messages of match and notify were settled with their jobs
    assert messages_sent(network["sandbox"]) == 1
    assert not WorkItem.objects.filter(referral=referral).exists()


def test_a_worker_killed_between_chained_jobs_loses_nothing(network, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    """The worker dies inside the chained match job: its held message comes back when the retry lease runs out,
    another worker books the referral, and the redelivered first message is skipped."""
    import referrals.qjob as qjob

    referral = straight_through_referral(network, "TEST-ACTIVE-2")
    with django_capture_on_commit_callbacks(execute=True):
        referral_start_flow(referral=referral)
    broker = get_broker()
    [(first_ack, first_payload)] = broker.dequeue()

    real_match = ReferralFlow.match._job

    def killed(activation):
        raise WorkerKilled

    monkeypatch.setattr(ReferralFlow.match, "_job", killed)
    monkeypatch.setattr(qjob, "release", lambda message_pk: None)  # a killed process runs no clean-up
    package = SignedPackage.loads(first_payload)
    with pytest.raises(WorkerKilled), django_capture_on_commit_callbacks(execute=True):
        qjob.run_job(*package["args"])
    assert job_status(referral, "eligibility") == STATUS.DONE
    assert job_status(referral, "match") == STATUS.STARTED
    assert deliver_next(broker) is None  # the match job's message is held for the dead worker's lease...
    [held] = [m for m in flow_messages() if m.pk != first_ack]
    assert held.lock > timezone.now() + timedelta(seconds=Conf.RETRY - 5)

    monkeypatch.setattr(ReferralFlow.match, "_job", real_match)
    with time_machine.travel(timezone.now() + timedelta(seconds=Conf.RETRY + 1)):
        # ...and the broker hands both unacknowledged messages out again once it has run out.
        with django_capture_on_commit_callbacks(execute=True):
            results = dict(filter(None, [deliver_next(broker), deliver_next(broker)]))
    assert sorted(results.values()) == ["done", "skipped"]  # eligibility was done already; match re-entered
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason
    assert referral.appointments.count() == 1
    assert ReferralFlow.process_class.objects.get(referral=referral).status == "DONE"
    assert flow_messages() == []
    assert messages_sent(network["sandbox"]) == 1
    assert not WorkItem.objects.filter(referral=referral).exists()


def test_out_of_time_the_rest_of_the_chain_goes_back_to_the_broker(network, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    import referrals.qjob as qjob

    monkeypatch.setattr(qjob, "_chain_budget", lambda: 0)  # the first job used the whole budget
    referral = straight_through_referral(network, "TEST-ACTIVE-3")
    with django_capture_on_commit_callbacks(execute=True):
        referral_start_flow(referral=referral)
    broker = get_broker()
    with django_capture_on_commit_callbacks(execute=True):
        delivered = [deliver_next(broker) for _ in range(3)]
    assert [result for _, result in delivered] == ["done"] * 3  # match and notify each through the broker, at once
    referral.refresh_from_db()
    assert referral.stage == "booked" and flow_messages() == []


def test_a_straight_through_referral_takes_one_broker_delivery(network, django_capture_on_commit_callbacks):
    """From the flow's start to the patient told: one message through the broker (eligibility; match and notify
    follow in the same worker), and a bounded number of queries (314 on PostgreSQL when each job was its own
    delivery, 149 since chained jobs start where they are activated, 126 since gateway and job tasks are written once;
    the broker's own result rows not counted)."""
    straight_through_referral(network, "TEST-ACTIVE-4")  # warm the per-run lookups (system user, circuit rows)
    referral = straight_through_referral(network, "TEST-ACTIVE-5")
    broker = get_broker()
    deliveries = []
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=True):
            referral_start_flow(referral=referral)
        while True:
            with django_capture_on_commit_callbacks(execute=True):  # each delivery commits, as on the worker
                delivered = deliver_next(broker)
            if not delivered:
                break
            deliveries.append(delivered)
    referral.refresh_from_db()
    assert referral.stage == "booked"
    eligibility = ReferralFlow.task_class.objects.get(process__referralprocess__referral=referral,
                                                      flow_task=ReferralFlow.eligibility)
    assert deliveries == [(f"flow-job-{eligibility.pk}", "done")]
    assert len(queries) <= 140, len(queries)


@pytest.mark.django_db(transaction=True)
def test_a_chained_job_runs_only_if_the_transaction_that_activated_it_committed(network):
    """The worker runs a chained job from the activation in hand, without reading it again: if the transaction that
    activated it rolled back, the job (and its held message) never existed, and its body must not run."""
    import referrals.qjob as qjob

    rolled_back = straight_through_referral(network, "TEST-ACTIVE-6")
    qjob._worker.chain = chain = []
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            referral_start_flow(referral=rolled_back)  # activates eligibility, to run next in this worker
            assert len(chain) == 1 and len(flow_messages()) == 1
            raise RuntimeError("the transaction that activated it fails afterwards")
        committed = straight_through_referral(network, "TEST-ACTIVE-7")
        with transaction.atomic():
            referral_start_flow(referral=committed)
    finally:
        qjob._worker.chain = None
    assert len(chain) == 2 and len(flow_messages()) == 1  # the rolled-back one's held message went with it

    qjob._run_started(chain[0])
    assert not ReferralFlow.process_class.objects.filter(referral=rolled_back).exists()
    assert not IntegrationCall.objects.exists()  # its eligibility check never reached the payer

    qjob._run_started(chain[1])
    assert job_status(committed, "eligibility") == STATUS.DONE and IntegrationCall.objects.count() == 1
    assert job_status(committed, "match") == STATUS.SCHEDULED  # no chain runs here: the next job takes the broker
