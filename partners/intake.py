"""Partner writes arriving as FHIR R4 resources: patient create-or-match, coverage, referral (ServiceRequest) and
booking (Appointment). Each is one transaction: all of it is written, or nothing."""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authorizations.models import Coverage, Payer
from authorizations.services import coverage_create
from healthops.errors import Conflict, DomainError, InvalidTransition
from healthops.models import Patient, Site
from healthops.services import patient_create
from referrals.models import Referral
from referrals.services import referral_book, referral_intake
from scheduling.models import Appointment, ServiceType

from .errors import Unprocessable
from .fhir.validation import int_id, reference_id
from .models import PartnerClient, PartnerPatient, PartnerReferral

GENDER = {"male", "female", "other", "unknown"}
ORDER_INTENTS = {"order", "original-order"}


def _mrn(identifiers) -> str:
    for ident in identifiers or []:
        codes = {c.code for c in (ident.type.coding or [])} if ident.type else set()
        if "MR" in codes and ident.value:
            return ident.value.strip()
    for ident in identifiers or []:
        if ident.value:
            return ident.value.strip()
    return ""


def _link(client: PartnerClient, patient: Patient) -> None:
    PartnerPatient.objects.get_or_create(organization=client.organization, patient=patient)


@transaction.atomic
def fhir_patient_create_or_match(*, client: PartnerClient, resource) -> tuple[Patient, bool]:
    """The patient with the resource's MRN (its birth date must agree), or a new one. Returns (patient, created)."""
    mrn = _mrn(resource.identifier)
    if not mrn:
        raise Unprocessable("Patient.identifier needs a medical record number (type MR) to match or create a patient.")
    if len(mrn) > 32:
        raise Unprocessable("Patient.identifier value is longer than 32 characters.")
    birth = resource.birthDate
    existing = Patient.objects.filter(mrn=mrn).first()
    if existing is not None:
        if birth is None or existing.birth_date != birth:
            raise Conflict("A patient with this identifier exists with another birth date; check the identifier.",
                           code="conflict")
        _link(client, existing)
        return existing, False
    name = next((n for n in resource.name or [] if n.family or n.given), None)
    if name is None or not name.family or not name.given:
        raise Unprocessable("Patient.name needs a family name and a given name to create a patient.")
    if birth is None:
        raise Unprocessable("Patient.birthDate is needed to create a patient.")
    telecom = {t.system: t.value for t in resource.telecom or [] if t.value}
    email = telecom.get("email") or ""
    address = (resource.address or [None])[0]
    where = {"address_line": " ".join(address.line or [])[:200], "city": (address.city or "")[:100],
             "state": (address.state or "")[:40], "postal_code": (address.postalCode or "")[:16]} if address else {}
    try:
        patient = patient_create(
            mrn=mrn, given_name=" ".join(name.given)[:100], family_name=name.family[:100], birth_date=birth,
            actor=client.user, sex=resource.gender if resource.gender in GENDER else "unknown",
            phone=(telecom.get("phone") or "")[:40], email=email[:254] if "@" in email else "", **where)
    except ValidationError as exc:
        raise Unprocessable("; ".join(exc.messages)) from exc
    _link(client, patient)
    return patient, True


def known_patient(client: PartnerClient, reference: str | None, where: str) -> Patient:
    pk = int_id(reference, "Patient")
    patient = Patient.objects.filter(pk=pk, partner_links__organization=client.organization).first() if pk else None
    if patient is None:
        raise Unprocessable(f"{where} must reference a Patient created or matched through POST Patient "
                            f"by this partner (got {reference!r}).", code="business-rule")
    return patient


@transaction.atomic
def fhir_coverage_create(*, client: PartnerClient, resource) -> tuple[Coverage, bool]:
    patient = known_patient(client, resource.beneficiary.reference if resource.beneficiary else None,
                            "Coverage.beneficiary")
    payer_id = next((p.identifier.value for p in resource.payor or [] if p.identifier and p.identifier.value), None)
    payer = Payer.objects.filter(identifier=payer_id, active=True).first() if payer_id else None
    if payer is None:
        raise Unprocessable(f"Coverage.payor must name a payer we know by identifier (got {payer_id!r}); "
                            "see GET /api/v1/payers.", code="business-rule")
    member_id = (resource.subscriberId or _mrn(resource.identifier) or "").strip()
    if not member_id:
        raise Unprocessable("Coverage.subscriberId (the member id) is required.")
    existing = Coverage.objects.filter(payer=payer, member_id=member_id).select_related("payer").first()
    if existing is not None:
        if existing.patient_id != patient.pk:
            raise Conflict(f"{payer.name} already has this member id for another patient.", code="duplicate")
        return existing, False
    period = resource.period
    plan = next((c.value for c in getattr(resource, "class_fhir", None) or [] if c.value), "")
    coverage = coverage_create(
        patient=patient, payer=payer, member_id=member_id[:64], plan=plan[:120], actor=client.user,
        period_start=_day(period.start if period else None) or timezone.localdate(),
        period_end=_day(period.end if period else None), priority=resource.order or 1)
    return coverage, True


def _day(value) -> date | None:
    """FHIR dateTime (date, or date and time) to a date."""
    return value.date() if isinstance(value, datetime) else value


def _patient_and_coverage(client: PartnerClient, resource) -> tuple[Patient, Coverage | None]:
    """The ServiceRequest's subject (a patient this partner knows) and the coverage its `insurance` names, or else the
    patient's primary active coverage. The common case, no `insurance` and a covered patient, is one query."""
    reference = resource.subject.reference if resource.subject else None
    if not resource.insurance:
        pk = int_id(reference, "Patient")
        primary = (Coverage.objects.select_related("patient")
                   .filter(patient_id=pk, patient__partner_links__organization=client.organization,
                           status=Coverage.Status.ACTIVE)
                   .order_by("priority", "pk").first()) if pk else None
        if primary is not None:
            return primary.patient, primary
        return known_patient(client, reference, "ServiceRequest.subject"), None  # unknown, or not covered
    patient = known_patient(client, reference, "ServiceRequest.subject")
    coverage = None
    for ref in resource.insurance:
        coverage = Coverage.objects.filter(pk=int_id(ref.reference, "Coverage") or 0, patient=patient).first()
        if coverage is None:
            raise Unprocessable(f"ServiceRequest.insurance {ref.reference!r} is not a coverage of this patient.")
    return patient, coverage


def _site(resource) -> Site:
    codes = [c.code for cc in resource.locationCode or [] for c in cc.coding or [] if c.code]
    codes += [reference_id(r.reference, "Location") for r in resource.locationReference or [] if r.reference]
    codes = [c for c in codes if c]
    if codes:
        site = Site.objects.filter(code__in=codes, active=True).first()
        if site is None:
            raise Unprocessable(f"ServiceRequest.location names no site we know ({', '.join(codes)}); "
                                "see GET /api/v1/sites.", code="business-rule")
        return site
    site = Site.objects.filter(active=True).order_by("pk").first()
    if site is None:
        raise Unprocessable("No site is open for referrals.")
    return site


def _reason(resource) -> str:
    texts = [cc.text or next((c.display for c in cc.coding or [] if c.display), "") for cc in resource.reasonCode or []]
    texts += [n.text for n in resource.note or [] if n.text]
    texts = [t for t in texts if t]
    if not texts and resource.code:
        texts = [resource.code.text or next((c.display for c in resource.code.coding or [] if c.display), "")]
    return "; ".join(t for t in texts if t)[:2000]


@transaction.atomic(savepoint=False)  # the caller's transaction (or savepoint) undoes it all on an error
def fhir_referral_create(*, client: PartnerClient, resource, raw: dict) -> Referral:
    """A ServiceRequest from a partner becomes a referral, and its ReferralFlow starts."""
    if resource.status != "active":
        raise Unprocessable(f"Only active ServiceRequests are referrals (status is {resource.status!r}).",
                            code="business-rule")
    if resource.intent not in ORDER_INTENTS:
        raise Unprocessable(f"ServiceRequest.intent must be order or original-order (got {resource.intent!r}).",
                            code="business-rule")
    patient, coverage = _patient_and_coverage(client, resource)
    codes = [c.code for c in (resource.code.coding or [] if resource.code else []) if c.code]
    if not codes and not (resource.code and resource.code.text):
        raise Unprocessable("ServiceRequest.code must name the service: coding[].code (our service type code), "
                            "or at least text.", code="required")
    # A code we do not offer, or a service named only in words, is still a referral: a person triages it.
    service_type = ServiceType.objects.filter(code__in=codes, active=True).first() if codes else None
    requested = service_type.code if service_type else (codes[0][:64] if codes else "")
    external = next((i.value for i in resource.identifier or [] if i.value), "")[:100]
    requester = (resource.requester.display or resource.requester.reference or "")[:200] if resource.requester else ""
    reason = _reason(resource) or f"Referral for {service_type.name if service_type else requested}"
    try:
        referral = referral_intake(
            actor=client.user, referring_organization=client.organization, partner=client.organization,
            site=_site(resource), reason=reason, source_channel=Referral.Channel.FHIR_API, patient=patient,
            service_type=service_type, requested_code=requested, priority=resource.priority or "routine",
            coverage=coverage, referring_practitioner=requester, external_identifier=external)
    except DomainError as exc:
        if exc.code == "duplicate":
            raise Conflict(exc.message, code="duplicate") from exc
        raise
    PartnerReferral.objects.create(referral=referral, client=client, resource=raw)  # also sets referral.partner_record
    return referral


@transaction.atomic
def fhir_appointment_book(*, client: PartnerClient, resource) -> tuple[Appointment, Referral]:
    from .selectors import partner_referrals

    tokens = [reference_id(s.reference, "Slot") for s in resource.slot or []]
    tokens = [t for t in tokens if t]
    if len(tokens) != 1:
        raise Unprocessable("Appointment.slot must hold exactly one reference Slot/<id> from a Slot search.",
                            code="required")
    referral_ids = [int_id(b.reference, "ServiceRequest") for b in resource.basedOn or []]
    referral_ids = [r for r in referral_ids if r]
    if len(referral_ids) != 1:
        raise Unprocessable("Appointment.basedOn must reference the one ServiceRequest this appointment is for.",
                            code="required")
    referral = partner_referrals(client).filter(pk=referral_ids[0]).first()
    if referral is None:
        raise Unprocessable(f"ServiceRequest/{referral_ids[0]} is not one of this partner's referrals.",
                            code="business-rule")
    try:
        appointment = referral_book(referral=referral, token=tokens[0], actor=client.user)
    except (Conflict, InvalidTransition):
        raise
    except DomainError as exc:
        raise Unprocessable(exc.message, code="business-rule") from exc
    return appointment, referral
