"""The ReferralFlow end to end, with the payer sandbox over HTTP and jobs run inline (django-q2 sync)."""

from datetime import date, timedelta

import pytest

from authorizations.models import PayerRule
from authorizations.services import coverage_create
from healthops.audit import system_user
from healthops.models import Event
from referrals.models import Referral, ReferralProcess, WorkItem
from referrals.work import open_task, referral_start_flow, task_complete

from .. import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def referral_for(network, member, *, prior_auth=False, auto_book=True, documents=()):
    PayerRule.objects.update_or_create(payer=network["payer"], service_type=network["service"],
                                       defaults={"prior_auth_required": prior_auth})
    network["service"].auto_book = auto_book
    network["service"].save()
    for code in documents:
        network["service"].required_documents.add(factories.document_kind(code))
    patient = factories.patient(network["site"], phone="555-0100")
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id=member,
                               period_start=date(2026, 1, 1), actor=system_user())
    return factories.referral(network["site"], patient, network["service"], coverage=coverage)


def run(referral, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        referral_start_flow(referral=referral)
    referral.refresh_from_db()
    return referral


def human_tasks(referral):
    return list(WorkItem.objects.filter(referral=referral).values_list("task_type", flat=True))


def test_straight_through_to_booked_with_zero_human_tasks(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-ACTIVE-1"), django_capture_on_commit_callbacks)
    assert referral.stage == Referral.Stage.BOOKED, referral.stage_reason
    assert human_tasks(referral) == []
    assert referral.appointments.get().status == "booked"
    assert ReferralProcess.objects.get(referral=referral).status == "DONE"
    messages = network["sandbox"].get("/messaging/messages").json
    assert len(messages["messages"] if isinstance(messages, dict) else messages) == 1


def test_prior_auth_approved_at_once_still_books_itself(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-ACTIVE-2", prior_auth=True), django_capture_on_commit_callbacks)
    assert referral.stage == "booked" and human_tasks(referral) == []
    assert referral.authorizations.get().status == "approved"


def test_pended_waits_on_the_payer_and_books_when_the_decision_arrives(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-PEND-1", prior_auth=True), django_capture_on_commit_callbacks)
    assert referral.stage == "authorization" and human_tasks(referral) == ["auth_follow_up"]
    auth = referral.authorizations.get()
    assert auth.status == "pended"
    network["sandbox"].post("/_control/decide", {"claim_identifier": auth.claim_identifier})
    from authorizations.payer import authorization_inquire

    with django_capture_on_commit_callbacks(execute=True):
        authorization_inquire(authorization=auth, actor=system_user())
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason
    item = WorkItem.objects.get(referral=referral)
    assert item.completed_at and item.completed_by.username == "healthops-system"


def test_denied_lands_in_the_denial_queue(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-DENY-1", prior_auth=True), django_capture_on_commit_callbacks)
    assert human_tasks(referral) == ["denial"]
    item = WorkItem.objects.get(referral=referral)
    assert item.reason.startswith("Denied") and item.task.owner_permission == "referrals.can_work_authorizations"


def test_missing_documents_then_outreach_then_on(network, coordinator, django_capture_on_commit_callbacks, settings,
                                                  tmp_path):
    settings.MEDIA_ROOT = tmp_path
    referral = run(referral_for(network, "TEST-ACTIVE-3", documents=["imaging-order"]),
                   django_capture_on_commit_callbacks)
    assert referral.stage == "completeness" and human_tasks(referral) == ["outreach"]
    from django.core.files.base import ContentFile

    from referrals.services import referral_document_add

    referral_document_add(referral=referral, kind=factories.document_kind("imaging-order"),
                          file=ContentFile(b"%PDF-1.4 order"), original_name="order.pdf", actor=coordinator)
    coordinator.user_permissions.clear()
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=open_task(referral, "outreach"), actor=coordinator, outcome="Imaging order received")
    referral.refresh_from_db()
    assert referral.stage == "booked"
    assert Event.objects.filter(subject=referral.subject, type__contains="task.completed", data__manual=True).count() == 1


def test_service_booked_by_a_person_goes_to_the_scheduling_queue(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-ACTIVE-4", auto_book=False), django_capture_on_commit_callbacks)
    assert referral.stage == "scheduling" and human_tasks(referral) == ["schedule"]
    assert WorkItem.objects.get(referral=referral).reason == "This service is booked by a person."


def test_inactive_coverage_goes_to_manual_verification(network, django_capture_on_commit_callbacks):
    referral = run(referral_for(network, "TEST-INACTIVE-1"), django_capture_on_commit_callbacks)
    assert human_tasks(referral) == ["verify_eligibility"]
    assert "not in force" in WorkItem.objects.get(referral=referral).reason


def test_payer_down_routes_to_a_person_and_resumes_by_itself(network, django_capture_on_commit_callbacks):
    network["sandbox"].post("/_faults", {"endpoint": "payer.eligibility", "error_rate": 1.0})
    referral = run(referral_for(network, "TEST-ACTIVE-5"), django_capture_on_commit_callbacks)
    assert human_tasks(referral) == ["verify_eligibility"]
    network["sandbox"].delete("/_faults")
    from authorizations.payer import retry_unreachable_eligibility
    from healthops.models import CircuitBreaker

    CircuitBreaker.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        retry_unreachable_eligibility(actor=system_user(), older_than=timedelta(0))
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason


def test_no_referral_is_orphaned_after_a_mixed_run(network, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    for member, auth in (("TEST-ACTIVE-6", False), ("TEST-PEND-6", True), ("TEST-DENY-6", True),
                         ("TEST-INACTIVE-6", False)):
        run(referral_for(network, member, prior_auth=auth), django_capture_on_commit_callbacks)
    out = StringIO()
    call_command("find_orphans", stdout=out)
    assert "0 orphaned" in out.getvalue()


def test_urgent_case_books_before_the_payer_decides_by_override(network, authspecialist, coordinator,
                                                                  django_capture_on_commit_callbacks):
    from healthops.errors import DomainError, NotAllowed
    from healthops.models import Override
    from referrals.work import auth_pending_override

    referral = run(referral_for(network, "TEST-PEND-9", prior_auth=True), django_capture_on_commit_callbacks)
    task = open_task(referral, "auth_follow_up")
    with pytest.raises(NotAllowed):
        auth_pending_override(task=task, actor=coordinator, reason_code="clinical-urgency",
                              justification="Suspected fracture, cannot wait for the payer")
    with pytest.raises(DomainError, match="justification"):
        auth_pending_override(task=task, actor=authspecialist, reason_code="clinical-urgency", justification="now")
    with django_capture_on_commit_callbacks(execute=True):
        auth_pending_override(task=task, actor=authspecialist, reason_code="clinical-urgency",
                              justification="Suspected fracture, cannot wait for the payer")
    referral.refresh_from_db()
    assert referral.stage == "booked" and referral.authorizations.get().status == "pended"
    assert Override.objects.get().rule == "referral.book-before-authorization"


def test_booking_from_the_referral_page_completes_the_open_scheduling_task(network, django_capture_on_commit_callbacks):
    from referrals.services import referral_book
    from scheduling.slots import find_slots

    referral = run(referral_for(network, "TEST-ACTIVE-10", auto_book=False), django_capture_on_commit_callbacks)
    assert human_tasks(referral) == ["schedule"]
    slot = find_slots(service_type=network["service"], sites=[network["site"].pk])[0]
    with django_capture_on_commit_callbacks(execute=True):
        referral_book(referral=referral, token=slot.token, actor=system_user())
    assert WorkItem.objects.get(referral=referral).completed_at is not None
    assert ReferralProcess.objects.get(referral=referral).status == "DONE"


def test_unknown_service_code_goes_to_triage_then_on(network, coordinator, django_capture_on_commit_callbacks):
    from referrals.services import referral_create, referral_set_service

    patient = factories.patient(network["site"])
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id="TEST-ACTIVE-11",
                               period_start=date(2026, 1, 1), actor=system_user())
    PayerRule.objects.update_or_create(payer=network["payer"], service_type=network["service"],
                                       defaults={"prior_auth_required": False})
    referral = referral_create(referring_organization=factories.organization("practice"), site=network["site"],
                               reason="Rash", source_channel="fhir-api", patient=patient, coverage=coverage,
                               requested_code="SNOMED-999", actor=system_user())
    referral = run(referral, django_capture_on_commit_callbacks)
    assert human_tasks(referral) == ["triage"] and referral.stage == "intake"
    with django_capture_on_commit_callbacks(execute=True):
        referral_set_service(referral=referral, service_type=network["service"], actor=coordinator)
        task_complete(task=open_task(referral, "triage"), actor=coordinator, outcome="Dermatology consult")
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason
