"""What a person does on each kind of referral task. Each action is a small function taking (*, task, actor, data),
where `data` is a form's cleaned data: it calls the existing services, then `referrals.work.task_complete` with the
facts the ReferralFlow routes by, and returns a message naming what happened. Actions are atomic (all or nothing),
except the one that talks to the payer: network calls never run inside a transaction."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from authorizations.models import Authorization
from authorizations.payer import appeal_record_outcome, appeal_submit, authorization_inquire
from authorizations.services import authorization_record_decision, eligibility_record
from healthops.errors import DomainError, InvalidTransition
from healthops.events import emit
from healthops.models import Patient
from healthops.services import patient_create

from .models import Referral, WorkItem
from .services import referral_book, referral_document_add, referral_revoke, referral_set_service
from .steps import missing_documents
from .work import (
    auth_pending_override,
    open_task,
    task_assign,
    task_claim,
    task_complete,
    task_hold,
    task_release,
    task_resume,
    tasks_assign_bulk,
)

DOCUMENTS_ARRIVE = "referral.document-added"


# Services these actions need that the referral services do not have yet.


@transaction.atomic
def referral_match_patient(*, referral: Referral, patient: Patient, actor) -> Referral:
    """Bind an unmatched referral to its patient, and to the patient's primary active coverage when it has none."""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)  # two coordinators matching at once
    if referral.is_final:
        raise InvalidTransition(f"Referral R-{referral.pk} is {referral.get_stage_display().lower()}.")
    if referral.patient_id and referral.patient_id != patient.pk:
        raise InvalidTransition(f"Referral R-{referral.pk} is already matched to another patient.")
    referral.patient = patient
    fields = ["patient", "updated_at"]
    if referral.coverage_id is None or referral.coverage.patient_id != patient.pk:
        referral.coverage = patient.coverages.filter(status="active").order_by("priority", "pk").first()
        fields.append("coverage")
    referral.save(update_fields=fields)
    emit("referral.patient-matched", subject=referral.subject, source="referrals", actor=actor,
         data={"referral_id": referral.pk, "patient_id": patient.pk, "coverage_id": referral.coverage_id})
    return referral


@transaction.atomic
def referral_note_add(*, referral: Referral, text: str, actor):
    """A case note: kept in the referral's event log, shown on its timeline."""
    text = text.strip()
    if not text:
        raise DomainError("Write the note first.")
    return emit("referral.note-added", subject=referral.subject, source="referrals", actor=actor,
                data={"referral_id": referral.pk, "text": text[:2000]})


# Helpers


def _referral(task) -> Referral:
    return Referral.objects.select_related("site", "coverage__payer", "service_type", "patient").get(
        pk=task.work_item.referral_id)


def _authorization(referral: Referral) -> Authorization:
    auth = referral.authorizations.exclude(status=Authorization.Status.CANCELLED).order_by("-pk").first()
    if auth is None:
        raise DomainError(f"R-{referral.pk} has no authorization request on file.")
    return auth


def _name(user) -> str:
    return user.get_full_name() or user.username


def _site_time(moment: datetime, referral: Referral) -> str:
    return date_format(timezone.localtime(moment, referral.site.tz), "D M j H:i")


# Working the task itself


@transaction.atomic
def claim(*, task, actor, data) -> str:
    task_claim(task=task, actor=actor)
    return f"R-{task.work_item.referral_id}: you took “{task.work_item.task_type.replace('_', ' ')}”."


@transaction.atomic
def release(*, task, actor, data) -> str:
    task_release(task=task, actor=actor)
    return f"R-{task.work_item.referral_id} is back in the team queue."


@transaction.atomic
def assign(*, task, actor, data) -> str:
    task_assign(task=task, assignee=data["assignee"], actor=actor)
    return f"R-{task.work_item.referral_id} assigned to {_name(data['assignee'])}."


@transaction.atomic
def assign_selected(*, tasks, actor, data) -> str:
    """A lead's bulk assignment: every selected task, or none (one refusal undoes the others)."""
    done = tasks_assign_bulk(tasks=tasks, assignee=data["assignee"], actor=actor)
    return f"{done} task{'s' if done != 1 else ''} assigned to {_name(data['assignee'])}."


@transaction.atomic
def hold(*, task, actor, data) -> str:
    referral = _referral(task)
    if data.get("until_documents"):
        task_hold(task=task, actor=actor, event=DOCUMENTS_ARRIVE, note=data.get("note", ""))
        return f"R-{referral.pk} is on hold until the referrer sends a document."
    task_hold(task=task, actor=actor, until=data["until"], note=data.get("note", ""))
    return f"R-{referral.pk} is on hold until {_site_time(data['until'], referral)}."


@transaction.atomic
def resume(*, task, actor, data) -> str:
    item = WorkItem.objects.select_for_update().select_related("referral").get(task=task)
    if item.held_since is None:
        raise InvalidTransition("This task is not on hold.")
    task_resume(item=item, actor=actor, why=f"resumed by {_name(actor)}")
    return f"R-{item.referral_id} is back in its queue."


def note(*, task, actor, data) -> str:
    referral_note_add(referral=task.work_item.referral, text=data["text"], actor=actor)
    return f"Note added to R-{task.work_item.referral_id}."


# patient_match


@transaction.atomic
def match_patient(*, task, actor, data) -> str:
    referral = referral_match_patient(referral=_referral(task), patient=data["patient"], actor=actor)
    task_complete(task=task, actor=actor, outcome=f"Matched to MRN {data['patient'].mrn}")
    return f"R-{referral.pk} matched to {data['patient'].full_name} ({data['patient'].mrn})."


@transaction.atomic
def create_patient(*, task, actor, data) -> str:
    referral = _referral(task)
    fields = {k: v for k, v in data.items() if k in ("sex", "phone") and v}
    patient = patient_create(mrn=data["mrn"], given_name=data["given_name"], family_name=data["family_name"],
                             birth_date=data["birth_date"], home_site=referral.site, actor=actor, **fields)
    referral_match_patient(referral=referral, patient=patient, actor=actor)
    task_complete(task=task, actor=actor, outcome=f"New patient MRN {patient.mrn}")
    return f"R-{referral.pk}: new patient {patient.full_name} ({patient.mrn}) created and matched."


# triage


@transaction.atomic
def choose_service(*, task, actor, data) -> str:
    referral = referral_set_service(referral=_referral(task), service_type=data["service_type"], actor=actor)
    task_complete(task=task, actor=actor, outcome=f"Service set to {data['service_type'].name}")
    return f"R-{referral.pk}: service set to {data['service_type'].name}; the case goes on."


# outreach


def add_document(*, task, actor, data) -> str:
    upload = data["file"]
    referral_document_add(referral=task.work_item.referral, kind=data["kind"], file=upload,
                          original_name=upload.name, actor=actor)
    return f"{data['kind']} added to R-{task.work_item.referral_id}."


@transaction.atomic
def documents_received(*, task, actor, data) -> str:
    referral = _referral(task)
    task_complete(task=task, actor=actor, outcome=data.get("note") or "Documents received")
    if open_task(referral, "outreach") is not None:  # the flow checked again and still misses some
        still = ", ".join(k.name for k in missing_documents(referral))
        return f"R-{referral.pk} still misses {still}: a new outreach task is open."
    return f"R-{referral.pk}: documents complete; the eligibility check runs next."


# verify_eligibility


@transaction.atomic
def verify_eligibility(*, task, actor, data) -> str:
    referral = _referral(task)
    in_force = data["outcome"] == "in-force"
    if referral.coverage is None:
        if in_force:
            raise DomainError("There is no coverage on file to confirm: record the patient's insurance first, "
                              "or close the referral.")
    else:
        eligibility_record(coverage=referral.coverage, outcome=data["outcome"], source="manual", note=data["note"],
                           actor=actor)
    if in_force:
        task_complete(task=task, actor=actor, outcome=f"Coverage confirmed: {data['note']}", facts={"eligibility": "in-force"})
        return f"R-{referral.pk}: coverage confirmed in force; authorization is checked next."
    referral_revoke(referral=referral, actor=actor, reason=data["close_reason"])
    task_complete(task=task, actor=actor, outcome=f"Coverage not in force: {data['note']}",
                  facts={"eligibility": "not-in-force", "close_reason": data["close_reason"][:300]})
    return f"R-{referral.pk} closed: coverage not in force."


# auth_determination


@transaction.atomic
def decide_auth_needed(*, task, actor, data) -> str:
    needed = data["auth_needed"] == "yes"
    task_complete(task=task, actor=actor, facts={"auth_needed": needed},
                  outcome=f"Prior authorization {'needed' if needed else 'not needed'}: {data['note']}")
    nxt = "a prior authorization request goes to the payer" if needed else "it goes on to booking"
    return f"R-{task.work_item.referral_id}: {nxt}."


# auth_follow_up


def ask_payer(*, task, actor, data) -> str:
    """Poll the payer now (network I/O: outside any transaction). A decision completes the task by itself."""
    referral = _referral(task)
    auth = authorization_inquire(authorization=_authorization(referral), actor=actor)
    if auth.status in (Authorization.Status.PENDED, Authorization.Status.SUBMITTED):
        problem = f" ({auth.last_error})" if auth.last_error else ""
        return f"R-{referral.pk}: the payer has not decided yet{problem}."
    return f"R-{referral.pk}: the payer answered: {auth.get_status_display().lower()}."


@transaction.atomic
def record_decision(*, task, actor, data) -> str:
    """A decision received by phone or fax. Its `authorization.decided` event completes the follow-up task
    (referrals.work._payer_decided), so the flow moves on without a second step."""
    referral = _referral(task)
    auth = authorization_record_decision(
        authorization=_authorization(referral), decision_code=data["decision_code"], actor=actor,
        auth_number=data.get("auth_number", ""), valid_from=data.get("valid_from"), valid_to=data.get("valid_to"),
        units_approved=data.get("units"), denial_reason=data.get("denial_reason", ""))
    if auth.status == Authorization.Status.DENIED:
        return f"R-{referral.pk}: denial recorded; it moves to the denial queue."
    return f"R-{referral.pk}: approval {auth.auth_number} recorded; booking follows."


def book_before_decision(*, task, actor, data) -> str:
    """Urgent care cannot wait for the payer: an override (permission, reason, justification) lets booking go on."""
    auth_pending_override(task=task, actor=actor, reason_code=data["reason_code"], justification=data["justification"])
    return f"R-{task.work_item.referral_id}: override recorded; booking goes on while the payer decides."


@transaction.atomic
def record_appeal_outcome(*, task, actor, data) -> str:
    referral = _referral(task)
    appeal = _authorization(referral).appeals.filter(outcome="pending").first()
    if appeal is None:
        raise DomainError(f"R-{referral.pk} has no appeal waiting for the payer.")
    appeal_record_outcome(appeal=appeal, outcome=data["outcome"], actor=actor, auth_number=data.get("auth_number", ""),
                          valid_from=data.get("valid_from"), valid_to=data.get("valid_to"))
    return f"R-{referral.pk}: appeal {data['outcome']} recorded."


# denial


@transaction.atomic
def appeal(*, task, actor, data) -> str:
    referral = _referral(task)
    appeal_submit(authorization=_authorization(referral), grounds=data["grounds"], actor=actor)
    task_complete(task=task, actor=actor, outcome="Appealed", facts={"auth_status": "appealed"})
    return f"R-{referral.pk}: appeal sent; the payer's answer is followed up in the authorization queue."


CLOSE_FACTS = {"denial": {"auth_status": "closed"}, "schedule": {"booked": False}}


@transaction.atomic
def close_referral(*, task, actor, data) -> str:
    referral = _referral(task)
    facts = {**CLOSE_FACTS[task.work_item.task_type], "close_reason": data["reason"][:300]}
    referral_revoke(referral=referral, actor=actor, reason=data["reason"])
    task_complete(task=task, actor=actor, outcome=f"Closed: {data['reason']}", facts=facts)
    return f"R-{referral.pk} closed: {data['reason']}"


# denied after a booking made under the "book before the payer decides" override


@transaction.atomic
def keep_booking(*, task, actor, data) -> str:
    """Keep the appointment despite the denial (the patient agreed to pay, the network waives the cost...)."""
    referral = _referral(task)
    task_complete(task=task, actor=actor, outcome=f"Booking kept after the denial: {data['reason']}",
                  facts={"auth_status": "denied"})
    return f"R-{referral.pk}: the booking stays; {data['reason']}"


@transaction.atomic
def cancel_after_denial(*, task, actor, data) -> str:
    """Cancel the appointments the override booked (reason: payer) and close the referral."""
    from scheduling.models import Appointment
    from scheduling.services import appointment_transition

    referral = _referral(task)
    cancelled = 0
    upcoming = (Appointment.Status.PROPOSED, Appointment.Status.PENDING, Appointment.Status.BOOKED)
    for appointment in referral.appointments.filter(status__in=upcoming).order_by("start"):
        appointment_transition(appointment=appointment, to_status=Appointment.Status.CANCELLED, actor=actor,
                               reason=Appointment.CancelReason.PAYER, text=data["reason"])
        cancelled += 1
    referral_revoke(referral=referral, actor=actor, reason=data["reason"])
    task_complete(task=task, actor=actor, outcome=f"Cancelled after the denial: {data['reason']}",
                  facts={"auth_status": "closed", "close_reason": data["reason"][:300]})
    return f"R-{referral.pk} closed and {cancelled} appointment(s) cancelled: {data['reason']}"


# schedule


@transaction.atomic
def book(*, task, actor, data) -> str:
    referral = _referral(task)
    # Complete first, as this person's work: booking then finds no open task for referrals.work._booked_elsewhere
    # to close automatically. A taken slot raises and undoes both.
    task_complete(task=task, actor=actor, outcome="Booked from the suggestions", facts={"booked": True})
    appointment = referral_book(referral=referral, token=data["token"], actor=actor)
    return f"R-{referral.pk} booked for {_site_time(appointment.start, referral)}."


# notify_by_phone


@transaction.atomic
def patient_informed(*, task, actor, data) -> str:
    referral = _referral(task)
    emit("referral.patient-notified", subject=referral.subject, source="referrals", actor=actor,
         data={"referral_id": referral.pk, "channel": "phone"})
    task_complete(task=task, actor=actor, outcome=f"Patient informed by phone: {data['note']}")
    return f"R-{referral.pk}: patient informed."
