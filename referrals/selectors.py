"""Reads for referral pages, scoped to the sites a user works for (see healthops.permissions)."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from authorizations.models import Authorization, Coverage, EligibilityCheck
from healthops.events import events_for
from healthops.models import Patient
from healthops.permissions import site_ids_for
from scheduling.models import Appointment

from .models import Referral, ReferralDocument


def patients_visible_to(user) -> QuerySet[Patient]:
    """Patients whose home site is one of the user's sites, or who have a referral or appointment there."""
    patients = Patient.objects.select_related("home_site")
    site_ids = site_ids_for(user)
    if site_ids is None:
        return patients
    return patients.filter(
        Q(home_site_id__in=site_ids)
        | Exists(Referral.objects.filter(patient=OuterRef("pk"), site_id__in=site_ids))
        | Exists(Appointment.objects.filter(patient=OuterRef("pk"), site_id__in=site_ids))
    )


def referrals_visible_to(user) -> QuerySet[Referral]:
    referrals = Referral.objects.select_related(
        "patient", "service_type", "site", "department", "referring_organization", "coverage__payer"
    )
    site_ids = site_ids_for(user)
    return referrals if site_ids is None else referrals.filter(site_id__in=site_ids)


REFERRAL_FILTERS = ("q", "stage", "status", "priority", "site", "service_type", "payer", "channel")


def referral_list(*, user, filters: dict) -> QuerySet[Referral]:
    """The referral list with its filters. `filters` holds cleaned values (see referrals.forms.ReferralFilterForm)."""
    referrals = referrals_visible_to(user)
    if q := filters.get("q"):
        q = q.strip()
        match = Q(patient__family_name__icontains=q) | Q(patient__given_name__icontains=q) | Q(patient__mrn__iexact=q)
        if q.upper().startswith("R-") and q[2:].isdigit():
            match |= Q(pk=int(q[2:]))
        elif q.isdigit():
            match |= Q(pk=int(q))
        match |= Q(external_identifier__iexact=q)
        referrals = referrals.filter(match)
    for key, lookup in (("stage", "stage"), ("status", "status"), ("priority", "priority"),
                        ("channel", "source_channel")):
        if value := filters.get(key):
            referrals = referrals.filter(**{lookup: value})
    if site := filters.get("site"):
        referrals = referrals.filter(site=site)
    if service_type := filters.get("service_type"):
        referrals = referrals.filter(service_type=service_type)
    if payer := filters.get("payer"):
        referrals = referrals.filter(coverage__payer=payer)
    return referrals.order_by(filters.get("order") or "-received_at", "-pk")


def referral_stage_counts(*, user, filters: dict) -> list[dict]:
    """How many referrals wait in each stage under the other filters (the stage filter itself is ignored), in one
    aggregate query. One row per stage, in journey order, zeros included."""
    rows = (referral_list(user=user, filters={**filters, "stage": None})
            .order_by().values("stage").annotate(n=Count("pk")))
    counts = {row["stage"]: row["n"] for row in rows}
    return [{"value": value, "label": label, "count": counts.get(value, 0)} for value, label in Referral.Stage.choices]


def referral_detail(*, user, pk: int) -> Referral:
    """One referral with everything its page shows; raises Referral.DoesNotExist outside the user's sites."""
    return referrals_visible_to(user).prefetch_related(
        Prefetch("documents", queryset=ReferralDocument.objects.select_related("kind", "uploaded_by")),
        Prefetch("appointments", queryset=Appointment.objects.select_related("service_type", "site")
                 .prefetch_related("booking__resources__resource")),
        Prefetch("authorizations", queryset=Authorization.objects.select_related("coverage__payer")),
    ).get(pk=pk)


def referral_required_documents(referral: Referral) -> list[dict]:
    """The documents the service type requires, each with whether the referral carries one of that kind.
    Uses the prefetched documents of `referral_detail`."""
    if referral.service_type is None:
        return []
    present = {document.kind_id for document in referral.documents.all()}
    return [{"kind": kind, "present": kind.pk in present} for kind in referral.service_type.required_documents.all()]


def referral_document(*, user, referral_pk: int, pk: int) -> ReferralDocument:
    """One document of a referral the user may see; raises ReferralDocument.DoesNotExist otherwise."""
    return ReferralDocument.objects.select_related("referral").get(
        pk=pk, referral_id=referral_pk, referral__in=referrals_visible_to(user).values("pk")
    )


def referral_timeline(referral: Referral):
    """Events of the referral and of the appointments, authorizations and coverage checks it led to."""
    subjects = [referral.subject]
    subjects += [f"appointment/{a.pk}" for a in referral.appointments.all()]
    subjects += [f"authorization/{a.pk}" for a in referral.authorizations.all()]
    if referral.coverage_id:
        subjects.append(f"coverage/{referral.coverage_id}")
    return events_for(subjects)


def latest_eligibility(referral: Referral) -> EligibilityCheck | None:
    if not referral.coverage_id:
        return None
    return EligibilityCheck.objects.filter(coverage_id=referral.coverage_id).order_by("-checked_at").first()


def audit_trail(referral: Referral):
    """Who saw or changed the referral and its documents (django-auditlog entries), newest first."""
    from auditlog.models import LogEntry

    referral_ct = ContentType.objects.get_for_model(Referral)
    document_ct = ContentType.objects.get_for_model(ReferralDocument)
    document_ids = [str(d.pk) for d in referral.documents.all()]
    return (
        LogEntry.objects.filter(
            Q(content_type=referral_ct, object_pk=str(referral.pk))
            | Q(content_type=document_ct, object_pk__in=document_ids)
        )
        .select_related("actor", "content_type")
        .order_by("-timestamp")
    )


def patient_detail(*, user, pk: int) -> Patient:
    return patients_visible_to(user).prefetch_related(
        Prefetch("coverages", queryset=Coverage.objects.select_related("payer")),
    ).get(pk=pk)


def patient_referrals(*, user, patient: Patient) -> QuerySet[Referral]:
    return referrals_visible_to(user).filter(patient=patient)


def patient_appointments(*, user, patient: Patient) -> QuerySet[Appointment]:
    """The patient's appointments at the user's sites, newest first, with the resources they hold."""
    site_ids = site_ids_for(user)
    appointments = Appointment.objects.filter(patient=patient).select_related("service_type", "site")
    if site_ids is not None:
        appointments = appointments.filter(site_id__in=site_ids)
    return appointments.prefetch_related("booking__resources__resource").order_by("-start", "-pk")


def booking_problem(referral: Referral) -> str | None:
    """Why the referral cannot be booked from its page now, or None."""
    if referral.patient_id is None:
        return "The patient is not matched yet; match the patient before booking."
    if referral.service_type_id is None:
        return "The requested service code is unknown; set the service before booking."
    if not referral.is_open:
        return f"This referral is {referral.get_stage_display().lower()}; there is nothing to book."
    return None


def booking_authorization(referral: Referral) -> Authorization | None:
    """The approved (or partly approved) authorization whose validity bounds the booking dates, latest decision first.
    Uses the prefetched authorizations of `referral_detail`."""
    approved = [a for a in referral.authorizations.all()
                if a.status in (Authorization.Status.APPROVED, Authorization.Status.PARTIAL)]
    return max(approved, key=lambda a: (a.decided_at is not None, a.decided_at, a.pk), default=None)
