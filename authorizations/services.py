"""Writes for coverage, eligibility results and prior authorizations. Payer calls live in healthops.integrations;
these services record what a payer (or a person on the phone) said."""

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from healthops.errors import DomainError, InvalidTransition
from healthops.events import emit
from healthops.models import Patient
from scheduling.models import ServiceType

from .models import Authorization, Coverage, EligibilityCheck, Payer

A = Authorization.Status
DECISION_STATUS = {
    "A1": A.APPROVED, "A2": A.PARTIAL, "A6": A.APPROVED, "A3": A.DENIED, "A4": A.PENDED, "C": A.CANCELLED,
}


@transaction.atomic
def coverage_create(
    *, patient: Patient, payer: Payer, member_id: str, period_start: date, actor, plan: str = "",
    period_end: date | None = None, priority: int = 1, time=None,
) -> Coverage:
    member_id = member_id.strip()
    if not member_id:
        raise DomainError("A coverage needs the member id printed on the insurance card.")
    if Coverage.objects.filter(payer=payer, member_id=member_id).exists():
        raise DomainError(f"{payer.name} already has a coverage with this member id.", code="duplicate-member")
    coverage = Coverage(patient=patient, payer=payer, member_id=member_id, plan=plan, period_start=period_start,
                        period_end=period_end, priority=priority)
    coverage.full_clean()
    coverage.save()
    emit("coverage.created", subject=f"coverage/{coverage.pk}", source="authorizations", actor=actor, time=time,
         data={"coverage_id": coverage.pk, "patient_id": patient.pk, "payer": payer.identifier})
    return coverage


@transaction.atomic
def eligibility_record(
    *, coverage: Coverage, outcome: str, source: str, actor, checked_at: datetime | None = None,
    purpose: str = EligibilityCheck.Purpose.VALIDATION, note: str = "", payer_reference: str = "",
) -> EligibilityCheck:
    if outcome not in EligibilityCheck.Outcome.values:
        raise DomainError(f"Unknown eligibility outcome {outcome!r}.")
    if source == EligibilityCheck.Source.MANUAL and len(note.strip()) < 5:
        raise DomainError("A manual eligibility result needs a note (who confirmed it, reference number).")
    check = EligibilityCheck.objects.create(
        coverage=coverage, outcome=outcome, source=source, purpose=purpose, note=note.strip(),
        payer_reference=payer_reference, checked_at=checked_at or timezone.now(),
        checked_by=actor if getattr(actor, "pk", None) else None,
    )
    emit("eligibility.checked", subject=f"coverage/{coverage.pk}", source="authorizations", actor=actor,
         time=check.checked_at,
         data={"eligibility_check_id": check.pk, "coverage_id": coverage.pk, "payer": coverage.payer.identifier,
               "outcome": outcome, "source": source})
    return check


@transaction.atomic
def authorization_create(
    *, coverage: Coverage, service_type: ServiceType, actor, urgency: str = Authorization.Urgency.STANDARD,
    units_requested: int = 1, time=None,
) -> Authorization:
    if urgency not in Authorization.Urgency.values:
        raise DomainError("Urgency must be standard or expedited.")
    auth = Authorization.objects.create(patient=coverage.patient, coverage=coverage, service_type=service_type,
                                        urgency=urgency, units_requested=units_requested)
    emit("authorization.created", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         time=time, data=_data(auth))
    return auth


@transaction.atomic
def authorization_mark_submitted(
    *, authorization: Authorization, actor, submitted_at: datetime | None = None, payer_tracking_id: str = "",
) -> Authorization:
    auth = Authorization.objects.select_for_update().get(pk=authorization.pk)  # one submission wins
    if auth.status != A.DRAFT:
        raise InvalidTransition(f"This authorization is already {auth.get_status_display().lower()}.")
    auth.submitted_at = submitted_at or timezone.now()
    auth.due_at = auth.clock_due(auth.submitted_at)
    auth.status = A.SUBMITTED
    auth.payer_tracking_id = payer_tracking_id
    auth.save()
    emit("authorization.submitted", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         time=auth.submitted_at, data={**_data(auth), "due_at": auth.due_at.isoformat()})
    return auth


@transaction.atomic
def authorization_record_decision(
    *, authorization: Authorization, decision_code: str, actor, decided_at: datetime | None = None,
    auth_number: str = "", valid_from: date | None = None, valid_to: date | None = None,
    units_approved: int | None = None, denial_reason: str = "",
) -> Authorization:
    """Record the payer's review action (PAS reviewActionCode). A4 (pended) keeps the clock running."""
    if decision_code not in DECISION_STATUS:
        raise DomainError(f"Review action code {decision_code!r} is not one we record as a decision.")
    auth = Authorization.objects.select_for_update().get(pk=authorization.pk)  # payer push vs. poll race
    if auth.status not in {A.SUBMITTED, A.PENDED}:
        raise InvalidTransition(f"A decision cannot be recorded on an authorization that is "
                                f"{auth.get_status_display().lower()}.")
    status = DECISION_STATUS[decision_code]
    if status in {A.APPROVED, A.PARTIAL} and not (auth_number and valid_from and valid_to):
        raise DomainError("An approval needs the authorization number and its validity dates.")
    if status == A.DENIED and not denial_reason.strip():
        raise DomainError("A denial needs the payer's reason.")
    auth.status, auth.decision_code = status, decision_code
    if status != A.PENDED:
        auth.decided_at = decided_at or timezone.now()
    auth.auth_number, auth.valid_from, auth.valid_to = auth_number, valid_from, valid_to
    auth.units_approved = units_approved if units_approved is not None else (
        auth.units_requested if status == A.APPROVED else None)
    auth.denial_reason = denial_reason.strip()
    auth.save()
    emit("authorization.decided", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         time=decided_at, data={**_data(auth), "decision": decision_code})
    return auth


def _data(auth: Authorization) -> dict:
    return {"authorization_id": auth.pk, "patient_id": auth.patient_id, "coverage_id": auth.coverage_id,
            "payer": auth.coverage.payer.identifier, "service_type": auth.service_type.code,
            "urgency": auth.urgency, "status": auth.status}


@transaction.atomic
def authorization_set_units_used(*, authorization: Authorization, units_used: int, actor) -> Authorization:
    """Record how many approved units are taken (by appointments that hold them). Over the approval is refused."""
    auth = Authorization.objects.select_for_update().get(pk=authorization.pk)  # two bookings must not both take the last unit
    if auth.units_used == units_used:
        return auth
    if auth.units_approved is not None and units_used > auth.units_approved:
        raise DomainError(f"All {auth.units_approved} approved units of authorization {auth.auth_number} are used; "
                          "ask the payer for more or book with an override.", code="units-exhausted")
    previous, auth.units_used = auth.units_used, units_used
    auth.save(update_fields=["units_used"])
    emit("authorization.units-changed", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         data={"authorization_id": auth.pk, "from": previous, "to": units_used, "approved": auth.units_approved})
    return auth
