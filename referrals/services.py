"""Referral intake, documents, stage changes and links to the appointments and authorizations it led to."""

import copy
import mimetypes
from datetime import datetime

from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from authorizations.models import Authorization, Coverage
from authorizations.services import authorization_set_units_used
from healthops.audit import save_audited
from healthops.errors import DomainError, InvalidTransition
from healthops.events import emit
from healthops.models import Department, Organization, Patient, Site
from scheduling.models import Appointment, DocumentKind, ServiceType
from scheduling.services import book_outside_template, candidate_book, slot_book

from .models import Referral, ReferralAppointment, ReferralAuthorization, ReferralDocument

R = Referral.Stage
ALLOWED_DOCUMENT_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/tiff", "text/plain"}


def referral_create(
    *,
    referring_organization: Organization,
    site: Site,
    reason: str,
    source_channel: str,
    actor,
    patient: Patient | None = None,
    service_type: ServiceType | None = None,
    requested_code: str = "",
    priority: str = Referral.Priority.ROUTINE,
    department: Department | None = None,
    coverage: Coverage | None = None,
    referring_practitioner: str = "",
    referring_practitioner_npi: str = "",
    external_identifier: str = "",
    partner: Organization | None = None,
    received_at: datetime | None = None,
) -> Referral:
    """Record a referral and `referral.received`. Bad fields are refused before anything is written. Past that, only
    a sender's identifier it has used already is an answer (DomainError "duplicate", nothing written); any other error
    undoes the caller's transaction up to its nearest savepoint, so a caller inside a transaction that catches one and
    goes on needs a savepoint of its own. (No savepoint here otherwise: intake is the partner API's hot path.)"""
    referral_fields_check(priority=priority, source_channel=source_channel, reason=reason, coverage=coverage,
                          patient=patient)
    try:
        # The sender's identifier is unique per sender (a constraint): a resend, or two copies racing, fails at the
        # insert, and the savepoint keeps the caller's transaction usable to tell that apart from other errors.
        with transaction.atomic(savepoint=bool(external_identifier)):
            referral = Referral.objects.create(
                patient=patient, coverage=coverage, referring_organization=referring_organization,
                referring_practitioner=referring_practitioner, referring_practitioner_npi=referring_practitioner_npi,
                partner=partner, service_type=service_type,
                requested_code=requested_code or getattr(service_type, "code", ""),
                site=site, department=department, priority=priority, reason=reason.strip(),
                received_at=received_at or timezone.now(), source_channel=source_channel,
                external_identifier=external_identifier,
                stage=R.INTAKE if patient else R.PATIENT_MATCH,
                stage_reason="" if patient else "No patient matched the referral's identifiers.",
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            emit("referral.received", subject=referral.subject, source="referrals", actor=actor,
                 time=referral.received_at,
                 data={"referral_id": referral.pk, "patient_id": referral.patient_id, "site": site.code,
                       "service_type": referral.requested_code, "priority": priority, "channel": source_channel})
    except IntegrityError:
        if external_identifier and Referral.objects.filter(
                referring_organization=referring_organization, external_identifier=external_identifier).exists():
            raise DomainError("This sender already sent a referral with that identifier.", code="duplicate") from None
        raise
    return referral


def referral_fields_check(*, priority: str = Referral.Priority.ROUTINE, source_channel: str, reason: str,
                          coverage: Coverage | None = None, patient: Patient | None = None, **_other) -> None:
    """What referral_create refuses before it writes anything."""
    if priority not in Referral.Priority.values:
        raise DomainError(f"Priority must be one of {', '.join(Referral.Priority.values)}.")
    if source_channel not in Referral.Channel.values:
        raise DomainError(f"Unknown intake channel {source_channel!r}.")
    if not reason.strip():
        raise DomainError("A referral needs a reason.")
    if coverage is not None and patient is not None and coverage.patient_id != patient.pk:
        raise DomainError("The coverage belongs to another patient.")


@transaction.atomic
def referral_document_add(
    *, referral: Referral, kind: DocumentKind, file: File, original_name: str, actor,
    content_type: str | None = None, uploaded_at: datetime | None = None,
) -> ReferralDocument:
    content_type = content_type or mimetypes.guess_type(original_name)[0] or "application/octet-stream"
    if content_type not in ALLOWED_DOCUMENT_TYPES:
        raise DomainError("Documents must be PDF, PNG, JPEG, TIFF or plain text.")
    size = file.size or 0
    if size == 0:
        raise DomainError("The document is empty.")
    if size > settings.REFERRAL_DOCUMENT_MAX_BYTES:
        raise DomainError(f"The document is larger than {settings.REFERRAL_DOCUMENT_MAX_BYTES // (1024 * 1024)} MB.")
    document = ReferralDocument(
        referral=referral, kind=kind, original_name=original_name[:200], content_type=content_type, size=size,
        uploaded_at=uploaded_at or timezone.now(), uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    document.file.save(original_name, file, save=False)
    document.save()
    emit("referral.document-added", subject=referral.subject, source="referrals", actor=actor,
         time=document.uploaded_at, data={"referral_id": referral.pk, "document_id": document.pk, "kind": kind.code})
    return document


STAGE_EVENTS = {R.COMPLETENESS: "referral.incomplete", R.BOOKED: "referral.booked", R.COMPLETED: "referral.completed"}


@transaction.atomic
def referral_set_stage(*, referral: Referral, stage: str, actor, reason: str = "", time=None) -> Referral:
    """Record where the referral now waits, and why. The ReferralFlow calls this at every step."""
    if stage not in R.values:
        raise DomainError(f"Unknown stage {stage!r}.")
    referral = Referral.objects.select_for_update().get(pk=referral.pk)  # flow steps may race on one referral
    return _set_stage(referral, stage=stage, actor=actor, reason=reason, time=time)


def _set_stage(referral: Referral, *, stage: str, actor, reason: str = "", time=None) -> Referral:
    """referral_set_stage for a referral the caller has just read under its row lock."""
    if referral.is_final:
        raise InvalidTransition(f"Referral R-{referral.pk} is {referral.get_stage_display().lower()}; "
                                "its stage cannot change.")
    before, previous = copy.copy(referral), referral.stage
    referral.stage, referral.stage_reason = stage, reason.strip()[:300]
    if stage == R.COMPLETED:
        referral.status = Referral.Status.COMPLETED
    save_audited(referral, before=before, update_fields=["stage", "stage_reason", "status", "updated_at"])
    emit(STAGE_EVENTS.get(stage, "referral.stage-changed"), subject=referral.subject, source="referrals",
         actor=actor, time=time, data={"referral_id": referral.pk, "from": previous, "to": stage,
                                       "reason": referral.stage_reason})
    return referral


@transaction.atomic
def referral_revoke(*, referral: Referral, actor, reason: str, time=None) -> Referral:
    if not reason.strip():
        raise DomainError("Say why the referral is withdrawn.")
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.is_final:
        raise InvalidTransition(f"Referral R-{referral.pk} is already {referral.get_stage_display().lower()}.")
    previous = referral.stage
    referral.status, referral.stage, referral.stage_reason = Referral.Status.REVOKED, R.CLOSED, reason.strip()[:300]
    referral.save(update_fields=["status", "stage", "stage_reason", "updated_at"])
    emit("referral.revoked", subject=referral.subject, source="referrals", actor=actor, time=time,
         data={"referral_id": referral.pk, "from": previous, "reason": referral.stage_reason})
    return referral


@transaction.atomic
def referral_link_appointment(*, referral: Referral, appointment: Appointment, actor, time=None) -> None:
    if appointment.patient_id != referral.patient_id:
        raise DomainError("The appointment is for another patient.")
    ReferralAppointment.objects.create(referral=referral, appointment=appointment)
    emit("referral.appointment-linked", subject=referral.subject, source="referrals", actor=actor, time=time,
         data={"referral_id": referral.pk, "appointment_id": appointment.pk})
    referral_sync_units(referral=referral, actor=actor)


def referral_sync_units(*, referral: Referral, actor) -> None:
    """Units used on the referral's approved authorization = its appointments that still hold their time."""
    auth = referral.authorizations.filter(status__in=[Authorization.Status.APPROVED, Authorization.Status.PARTIAL]).first()
    if auth is None:
        return
    holding = referral.appointments.filter(status__in=Appointment.HOLDING).count()
    authorization_set_units_used(authorization=auth, units_used=holding, actor=actor)


@transaction.atomic
def referral_link_authorization(*, referral: Referral, authorization: Authorization, actor, time=None) -> None:
    if authorization.patient_id != referral.patient_id:
        raise DomainError("The authorization is for another patient.")
    ReferralAuthorization.objects.create(referral=referral, authorization=authorization)
    emit("referral.authorization-linked", subject=referral.subject, source="referrals", actor=actor, time=time,
         data={"referral_id": referral.pk, "authorization_id": authorization.pk})


@transaction.atomic
def referral_book(*, referral: Referral, token: str, actor, override: dict | None = None) -> Appointment:
    """Book a slot found for the referral (a scheduling.slots token) for its patient, link the appointment and move
    the referral to `booked`: all three, or none (a taken slot raises Conflict and leaves nothing behind)."""
    return _book(referral, actor, lambda patient: slot_book(token=token, patient=patient, actor=actor,
                                                            override=override))


@transaction.atomic
def referral_book_found(*, referral: Referral, candidate, actor) -> Appointment:
    """Book a slot the flow's match step has just found for the referral (scheduling.services.candidate_book)."""
    return _book(referral, actor, lambda patient: candidate_book(
        candidate=candidate, service_type=referral.service_type, site=referral.site, patient=patient, actor=actor))


@transaction.atomic
def referral_book_outside_template(*, referral: Referral, start: datetime, staff_resource, room_resource, actor,
                                   override: dict | None) -> Appointment:
    """Book the referral at a time the schedule does not offer, at its own site (scheduling.services
    .book_outside_template: permission, reason code and justification)."""
    return _book(referral, actor, lambda patient: book_outside_template(
        patient=patient, service_type=referral.service_type, site=referral.site, start=start,
        staff_resource=staff_resource, room_resource=room_resource, actor=actor, override=override))


def _book(referral: Referral, actor, book) -> Appointment:
    # Lock the referral: two schedulers booking it at once must not book two slots.
    referral = Referral.objects.select_for_update(of=("self",)).select_related("patient").get(pk=referral.pk)
    if referral.patient_id is None:
        raise DomainError("Match the patient before booking.")
    if referral.service_type_id is None:
        raise DomainError("The referral's service is unknown; set the service before booking.")
    if not referral.is_open:
        raise InvalidTransition(f"Referral R-{referral.pk} is {referral.get_stage_display().lower()}; "
                                "it cannot be booked again.")
    appointment = book(referral.patient)
    if appointment.service_type_id != referral.service_type_id:
        raise DomainError("That slot is for another service than the referral asks for.")
    referral_link_appointment(referral=referral, appointment=appointment, actor=actor)
    who = (actor.get_full_name() or actor.username) if getattr(actor, "pk", None) else "HealthOps automation"
    _set_stage(referral, stage=R.BOOKED, actor=actor, reason=f"Booked by {who}")  # still under _book's lock
    return appointment


def referral_intake(*, actor, document=None, document_kind: DocumentKind | None = None, **fields) -> Referral:
    """A new referral from any channel: recorded, its first document attached, and the ReferralFlow started by the
    worker: the start job's broker message is written in this transaction, so the referral and its start are
    committed together or not at all, and the caller (a partner's POST, the intake form) does not wait for routing.
    Errors as referral_create's; a refused document undoes the referral too (a savepoint when there is one)."""
    from .work import referral_start_flow_later

    referral_fields_check(**fields)
    with transaction.atomic(savepoint=document is not None):
        referral = referral_create(actor=actor, **fields)
        if document is not None and document_kind is not None:
            referral_document_add(referral=referral, kind=document_kind, file=document, original_name=document.name,
                                  content_type=getattr(document, "content_type", None), actor=actor)
        referral_start_flow_later(referral=referral)
    return referral


@transaction.atomic
def referral_set_service(*, referral: Referral, service_type: ServiceType, actor) -> Referral:
    """Triage: name the service a referral asks for when its code matched none of ours."""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)  # triage and intake edits must not interleave
    if referral.is_final:
        raise InvalidTransition(f"Referral R-{referral.pk} is {referral.get_stage_display().lower()}.")
    if not service_type.active:
        raise DomainError(f"{service_type.name} is not offered any more.")
    previous = referral.service_type_id
    referral.service_type = service_type
    referral.save(update_fields=["service_type", "updated_at"])
    emit("referral.service-set", subject=referral.subject, source="referrals", actor=actor,
         data={"referral_id": referral.pk, "from": previous, "service_type": service_type.code,
               "requested_code": referral.requested_code})
    return referral
