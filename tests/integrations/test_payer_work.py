"""Eligibility, prior authorization and its payer clock, against the sandbox payer over HTTP."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from authorizations.models import Authorization, EligibilityCheck
from authorizations.payer import (
    alert_expiring,
    appeal_record_outcome,
    appeal_submit,
    authorization_inquire,
    authorization_notification,
    authorization_submit,
    eligibility_check,
    eligibility_current,
    retry_unreachable_eligibility,
    retry_unsent,
)
from authorizations.selectors import payer_scorecard
from authorizations.services import authorization_create, coverage_create
from healthops.audit import system_user
from healthops.errors import DomainError
from healthops.models import Event

from .. import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(north, sandbox, fast_settings):
    fast_settings.PAYER_URL = f"{sandbox.base_url}/payer"
    payer = factories.payer()
    service = factories.service_type(code="mri-knee")
    return {"payer": payer, "service": service, "site": north, "sandbox": sandbox}


def coverage(world, member):
    return coverage_create(patient=factories.patient(world["site"]), payer=world["payer"], member_id=member,
                           period_start=date(2026, 1, 1), actor=system_user())


def auth_for(world, member, urgency="standard"):
    return authorization_create(coverage=coverage(world, member), service_type=world["service"], urgency=urgency,
                                actor=system_user())


@pytest.mark.parametrize("member,outcome", [("TEST-ACTIVE-1", "in-force"), ("TEST-INACTIVE-1", "not-in-force"),
                                            ("MBR-X-000001", "in-force"), ("UNKNOWN-1", "member-unknown")])
def test_eligibility_outcomes(world, member, outcome):
    check = eligibility_check(coverage=coverage(world, member), actor=system_user())
    assert (check.outcome, check.source) == (outcome, "payer-api")
    assert Event.objects.filter(type__contains="eligibility.checked", data__outcome=outcome).exists()


def test_unreachable_payer_says_so_and_a_later_retry_resumes(world):
    world["sandbox"].post("/_faults", {"endpoint": "payer.eligibility", "error_rate": 1.0})
    cov = coverage(world, "TEST-ACTIVE-2")
    check = eligibility_check(coverage=cov, actor=system_user())
    assert check.outcome == "unreachable" and "could not be reached" in check.note
    assert eligibility_current(cov) is None  # no definitive answer yet: the flow routes it to a person
    world["sandbox"].delete("/_faults")
    from healthops.models import CircuitBreaker

    CircuitBreaker.objects.all().delete()
    assert retry_unreachable_eligibility(actor=system_user(), older_than=timedelta(0)) == 1
    assert eligibility_current(cov).outcome == "in-force"


def test_stale_results_do_not_count(world, settings):
    cov = coverage(world, "TEST-ACTIVE-3")
    eligibility_check(coverage=cov, actor=system_user())
    assert eligibility_current(cov, now=timezone.now() + timedelta(hours=settings.ELIGIBILITY_STALE_HOURS + 1)) is None


def test_approved_at_once(world):
    outcome = authorization_submit(authorization=auth_for(world, "TEST-ACTIVE-4"), actor=system_user())
    auth = outcome.authorization
    assert outcome.submitted and auth.status == "approved" and auth.decision_code == "A1"
    assert auth.auth_number and auth.valid_from and auth.valid_to and auth.units_approved == 1
    assert auth.due_at == auth.submitted_at + timedelta(days=7)


def test_denied_with_reason_then_appeal_overturned(world, coordinator):
    auth = authorization_submit(authorization=auth_for(world, "TEST-DENY-1"), actor=system_user()).authorization
    assert auth.status == "denied" and auth.decision_code == "A3" and auth.denial_reason
    with pytest.raises(DomainError, match="at least a sentence"):
        appeal_submit(authorization=auth, grounds="please", actor=coordinator)
    appeal = appeal_submit(authorization=auth, actor=coordinator,
                           grounds="Conservative therapy failed for 8 weeks; guideline criteria are met.")
    appeal_record_outcome(appeal=appeal, outcome="overturned", auth_number="AP-1", valid_from=date(2030, 1, 1),
                          valid_to=date(2030, 3, 1), actor=coordinator)
    auth.refresh_from_db()
    assert auth.status == "approved"
    row = next(r for r in payer_scorecard() if r["payer_identifier"] == world["payer"].identifier)
    assert row["approved_after_appeal_pct"] == 100.0


def test_pended_is_followed_by_inquiry_and_by_notification(world):
    first = authorization_submit(authorization=auth_for(world, "TEST-PEND-1", "expedited"), actor=system_user())
    auth = first.authorization
    assert auth.status == "pended" and auth.decided_at is None
    assert auth.due_at == auth.submitted_at + timedelta(hours=72)
    assert authorization_inquire(authorization=auth, actor=system_user()).status == "pended"
    world["sandbox"].post("/_control/decide", {"claim_identifier": auth.claim_identifier})
    assert authorization_inquire(authorization=auth, actor=system_user()).status == "approved"


def test_submission_is_sent_once_even_when_repeated(world):
    auth = auth_for(world, "TEST-ACTIVE-5")
    authorization_submit(authorization=auth, actor=system_user())
    authorization_submit(authorization=auth, actor=system_user())  # the job delivered twice
    stats = world["sandbox"].get("/_control/stats").json
    assert stats["submissions"] and max(stats["submissions"].values()) == 1


def test_submission_during_an_outage_waits_and_resumes_by_itself(world):
    world["sandbox"].post("/_faults", {"endpoint": "payer.submit", "outage_seconds": 60})
    outcome = authorization_submit(authorization=auth_for(world, "TEST-ACTIVE-6"), actor=system_user())
    assert not outcome.submitted and "could not be reached" in outcome.problem
    assert outcome.authorization.status == "draft"
    world["sandbox"].delete("/_faults")
    from healthops.models import CircuitBreaker

    CircuitBreaker.objects.all().delete()
    assert retry_unsent(actor=system_user(), older_than=timedelta(0)) == 1
    assert Authorization.objects.get(pk=outcome.authorization.pk).status == "approved"


def test_a_timed_out_submission_retried_is_not_a_second_submission(world):
    world["sandbox"].post("/_faults", {"endpoint": "payer.submit", "timeout_rate": 1.0, "timeout_seconds": 1.5})
    auth = auth_for(world, "TEST-ACTIVE-7")
    assert not authorization_submit(authorization=auth, actor=system_user()).submitted
    world["sandbox"].delete("/_faults")
    from healthops.models import CircuitBreaker

    CircuitBreaker.objects.all().delete()
    assert authorization_submit(authorization=auth, actor=system_user()).authorization.status == "approved"
    stats = world["sandbox"].get("/_control/stats").json
    assert stats["authorizations_created"] == 1


def test_garbled_decision_is_an_error_not_a_wrong_status(world):
    world["sandbox"].post("/_faults", {"endpoint": "payer.submit", "malformed_rate": 1.0, "malformed_kind": "wrong-shape"})
    outcome = authorization_submit(authorization=auth_for(world, "TEST-ACTIVE-8"), actor=system_user())
    assert not outcome.submitted and outcome.authorization.status == "draft"
    assert "garbled" in outcome.problem


def test_notification_for_unknown_claim_is_refused(world):
    with pytest.raises(DomainError, match="not a PAS ClaimResponse"):
        authorization_notification(body={"resourceType": "Patient"}, actor=system_user())


def test_expiry_alert_once(world):
    auth = authorization_submit(authorization=auth_for(world, "TEST-ACTIVE-9"), actor=system_user()).authorization
    soon = timezone.now() + (auth.valid_to - timezone.now().date()) - timedelta(days=3)
    assert alert_expiring(actor=system_user(), now=soon) == 1
    assert alert_expiring(actor=system_user(), now=soon) == 0
    assert Event.objects.filter(type__contains="authorization.expiring").count() == 1


def test_scorecard_counts_breaches(world):
    auth = auth_for(world, "TEST-PEND-2", "expedited")
    auth = authorization_submit(authorization=auth, actor=system_user()).authorization
    row = next(r for r in payer_scorecard(now=auth.due_at + timedelta(hours=1))
               if r["payer_identifier"] == world["payer"].identifier)
    assert row["count"] == 1 and row["breached_pct"] == 100.0 and row["undecided"] == 1
    assert EligibilityCheck.objects.count() == 0
