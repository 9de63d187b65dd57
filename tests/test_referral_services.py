"""Referral intake, documents and stage changes: the services every surface calls."""

from datetime import UTC, date, datetime

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from authorizations.services import (
    authorization_create,
    authorization_mark_submitted,
    authorization_record_decision,
    coverage_create,
    eligibility_record,
)
from healthops.audit import system_user
from healthops.errors import DomainError, InvalidTransition
from healthops.models import Event
from referrals.models import Referral, ReferralDocument
from referrals.services import (
    referral_create,
    referral_document_add,
    referral_intake,
    referral_link_authorization,
    referral_revoke,
    referral_set_stage,
)

from . import factories

pytestmark = pytest.mark.django_db


def types_of(subject):
    return [t.removeprefix("org.healthops.").removesuffix(".v1")
            for t in Event.objects.filter(subject=subject).values_list("type", flat=True)]


def test_referral_without_patient_waits_for_patient_match(north):
    referral = referral_create(
        referring_organization=factories.organization("practice"), site=north, reason="Chest pain",
        source_channel="fax", actor=system_user())
    assert referral.stage == Referral.Stage.PATIENT_MATCH and referral.stage_reason
    assert types_of(referral.subject) == ["referral.received"]


def test_bad_input_is_refused_and_writes_nothing(north):
    org = factories.organization("practice")
    for kwargs, message in (({"priority": "whenever"}, "Priority"), ({"source_channel": "pigeon"}, "channel"),
                            ({"reason": "  "}, "reason")):
        args = {"referring_organization": org, "site": north, "reason": "Knee pain", "source_channel": "web",
                "actor": system_user()} | kwargs
        with pytest.raises(DomainError, match=message):
            referral_create(**args)
    assert not Referral.objects.exists() and not Event.objects.exists()


def test_duplicate_external_identifier_from_one_sender_is_refused(north):
    org = factories.organization("practice")
    factories.referral(north, referring_organization=org, external_identifier="EXT-1")
    with pytest.raises(DomainError, match="already sent"):
        factories.referral(north, referring_organization=org, external_identifier="EXT-1")
    # The test's transaction is still usable: the refusal undid only the second insert.
    assert Referral.objects.filter(external_identifier="EXT-1").count() == 1


def test_intake_refusals_inside_a_transaction_leave_it_usable_and_unchanged(north, settings, tmp_path):
    """Intake takes no savepoint on its hot path, so what it refuses must be refused before it writes (bad fields) or
    undone by a savepoint of its own (a refused first document). The test runs inside a transaction, as a caller's
    code might."""
    settings.MEDIA_ROOT = tmp_path
    org, patient = factories.organization("practice"), factories.patient(north)
    fields = {"referring_organization": org, "site": north, "patient": patient, "reason": "Knee pain",
              "source_channel": "web", "actor": system_user()}
    with pytest.raises(DomainError, match="reason"):
        referral_intake(**fields | {"reason": " "})
    with pytest.raises(DomainError, match="PDF, PNG"):
        referral_intake(**fields, document=ContentFile(b"MZ...", name="x.exe"), document_kind=factories.document_kind())
    assert not Referral.objects.exists() and not Event.objects.exists()
    assert referral_intake(**fields).stage == Referral.Stage.INTAKE


def test_document_upload_checks_type_and_size(north, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    referral = factories.referral(north)
    kind = factories.document_kind()
    doc = referral_document_add(referral=referral, kind=kind, file=ContentFile(b"%PDF-1.4 test"),
                                original_name="letter.pdf", actor=system_user())
    assert doc.size == 13 and doc.content_type == "application/pdf"
    assert "letter" not in doc.file.name  # stored under a random name, no identifiers in paths
    with pytest.raises(DomainError, match="PDF, PNG"):
        referral_document_add(referral=referral, kind=kind, file=ContentFile(b"MZ..."), original_name="x.exe",
                              actor=system_user())
    settings.REFERRAL_DOCUMENT_MAX_BYTES = 5
    with pytest.raises(DomainError, match="larger than"):
        referral_document_add(referral=referral, kind=kind, file=ContentFile(b"123456"), original_name="a.txt",
                              actor=system_user())
    assert ReferralDocument.objects.count() == 1
    assert types_of(referral.subject) == ["referral.received", "referral.document-added"]


def test_stage_changes_emit_and_closed_referrals_stay_closed(north):
    referral = factories.referral(north)
    referral_set_stage(referral=referral, stage="completeness", reason="Missing imaging order", actor=system_user())
    referral_revoke(referral=referral, reason="Patient chose another provider", actor=system_user())
    with pytest.raises(InvalidTransition):
        referral_set_stage(referral=referral, stage="scheduling", actor=system_user())
    assert types_of(referral.subject) == ["referral.received", "referral.incomplete", "referral.revoked"]
    referral.refresh_from_db()
    assert (referral.status, referral.stage) == ("revoked", "closed")


def test_authorization_lifecycle_runs_the_payer_clock(north):
    referral = factories.referral(north)
    payer = factories.payer()
    coverage = coverage_create(patient=referral.patient, payer=payer, member_id="TEST-PEND-1",
                               period_start=date(2026, 1, 1), actor=system_user())
    eligibility_record(coverage=coverage, outcome="in-force", source="payer-api", actor=system_user())
    auth = authorization_create(coverage=coverage, service_type=referral.service_type, urgency="expedited",
                                actor=system_user())
    referral_link_authorization(referral=referral, authorization=auth, actor=system_user())
    submitted = datetime(2026, 11, 2, 12, tzinfo=UTC)
    auth = authorization_mark_submitted(authorization=auth, submitted_at=submitted, actor=system_user())
    assert auth.due_at == datetime(2026, 11, 5, 12, tzinfo=UTC)  # 72 hours, expedited
    auth = authorization_record_decision(authorization=auth, decision_code="A4", actor=system_user())
    assert auth.status == "pended" and auth.decided_at is None
    with pytest.raises(DomainError, match="authorization number"):
        authorization_record_decision(authorization=auth, decision_code="A1", actor=system_user())
    auth = authorization_record_decision(authorization=auth, decision_code="A1", auth_number="AUTH-1",
                                         valid_from=date(2026, 11, 5), valid_to=date(2027, 2, 5), actor=system_user())
    assert auth.status == "approved" and auth.units_approved == 1
    with pytest.raises(InvalidTransition):
        authorization_record_decision(authorization=auth, decision_code="A3", denial_reason="x", actor=system_user())
    assert referral.authorizations.get() == auth
    assert types_of(f"authorization/{auth.pk}") == ["authorization.created", "authorization.submitted",
                                                     "authorization.decided", "authorization.decided"]


def test_manual_eligibility_needs_a_note(north):
    patient = factories.patient(north)
    coverage = coverage_create(patient=patient, payer=factories.payer(), member_id="M1", period_start=date(2026, 1, 1),
                               actor=system_user())
    with pytest.raises(DomainError, match="note"):
        eligibility_record(coverage=coverage, outcome="in-force", source="manual", actor=system_user())


def test_approved_units_follow_the_appointments_that_hold_them(north):
    from datetime import timedelta

    from scheduling.services import appointment_book, appointment_transition

    referral = factories.referral(north)
    coverage = coverage_create(patient=referral.patient, payer=factories.payer(), member_id="U-1",
                               period_start=date(2026, 1, 1), actor=system_user())
    auth = authorization_create(coverage=coverage, service_type=referral.service_type, actor=system_user())
    referral_link_authorization(referral=referral, authorization=auth, actor=system_user())
    auth = authorization_mark_submitted(authorization=auth, actor=system_user())
    authorization_record_decision(authorization=auth, decision_code="A1", auth_number="AU-9", units_approved=1,
                                  valid_from=date(2030, 1, 1), valid_to=date(2030, 12, 31), actor=system_user())
    room = factories.room(north)
    start = datetime(2030, 2, 4, 15, tzinfo=UTC)

    def book(at):
        appointment = appointment_book(patient=referral.patient, service_type=referral.service_type, site=north,
                                       start=at, resources=[room.resource], actor=system_user())
        from referrals.services import referral_link_appointment

        referral_link_appointment(referral=referral, appointment=appointment, actor=system_user())
        return appointment

    first = book(start)
    auth.refresh_from_db()
    assert auth.units_used == 1
    with pytest.raises(DomainError, match="approved units"):
        book(start + timedelta(hours=2))
    appointment_transition(appointment=first, to_status="cancelled", reason="patient", actor=system_user())
    auth.refresh_from_db()
    assert auth.units_used == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_same_identifier_sent_twice_at_once_is_one_referral_and_one_clear_refusal(north):
    """Two copies of one referral racing in (a partner's retry without its Idempotency-Key): one is recorded, the other
    is refused as a duplicate, not a database error."""
    import threading

    from django.db import connections, transaction

    org = factories.organization("practice")
    barrier, outcomes = threading.Barrier(4), []

    def send():
        try:
            barrier.wait()
            with transaction.atomic():
                factories.referral(north, referring_organization=org, external_identifier="EXT-RACE")
            outcomes.append("recorded")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate"] * 3 + ["recorded"]
    assert Referral.objects.filter(external_identifier="EXT-RACE").count() == 1
