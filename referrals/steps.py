"""What the ReferralFlow's automated steps do. Each calls the services of the other apps, records the routing facts on
the process, and, when a person must take over, says why (`handoff_reason`). Every step is idempotent."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from authorizations.payer import authorization_submit, eligibility_check, eligibility_current
from authorizations.rules import prior_auth_required, required_document_kinds
from authorizations.services import authorization_create
from healthops.audit import system_user
from healthops.errors import Conflict
from healthops.events import emit
from scheduling.slots import find_slots

from .models import Referral, ReferralProcess, TaskSLA, WorkItem

log = logging.getLogger(__name__)
R = Referral.Stage

# Default SLAs (hours) by task type and priority, used where the rule console has none.
DEFAULT_SLA_HOURS = {"routine": 48, "urgent": 24, "asap": 8, "stat": 2}
TASK_STAGE = {"triage": R.INTAKE, "patient_match": R.PATIENT_MATCH, "outreach": R.COMPLETENESS,
              "verify_eligibility": R.ELIGIBILITY,
              "auth_determination": R.AUTHORIZATION, "auth_follow_up": R.AUTHORIZATION, "denial": R.AUTHORIZATION,
              "schedule": R.SCHEDULING, "notify_by_phone": R.BOOKED, "denied_after_booking": R.BOOKED}
DEFAULT_REASONS = {"patient_match": "No patient matched the referral's identifiers.",
                   "triage": "The requested service code matches no service we offer: choose the service.",
                   "outreach": "Required documents are missing.",
                   "verify_eligibility": "Eligibility could not be confirmed automatically.",
                   "auth_determination": "No payer rule says whether this service needs prior authorization.",
                   "auth_follow_up": "Waiting for the payer's decision.",
                   "denial": "The payer denied the authorization.",
                   "schedule": "This referral needs a person to book it.",
                   "notify_by_phone": "The patient message could not be sent.",
                   "denied_after_booking": "The payer denied the authorization after the appointment was booked under "
                                           "an override: appeal, keep the booking or cancel it."}


def _stage(referral: Referral, stage: str, reason: str = "", actor=None, *, locked: bool = False) -> None:
    """Move the referral to `stage` unless it is there already. `locked`: the caller read it under its row lock, in
    this transaction."""
    from .services import _set_stage, referral_set_stage

    if referral.stage != stage or referral.stage_reason != reason:
        if locked:
            _set_stage(referral, stage=stage, reason=reason, actor=actor or system_user())
        else:
            referral_set_stage(referral=referral, stage=stage, reason=reason, actor=actor or system_user())


def start(activation, referral: Referral):
    """StartHandle body: bind the process to its referral."""
    activation.process.referral = referral
    return activation.process


def documents_complete(process: ReferralProcess) -> bool:
    return not missing_documents(process.referral)


def missing_documents(referral: Referral) -> list:
    if referral.service_type is None:
        return []
    payer = referral.coverage.payer if referral.coverage_id else None
    required = required_document_kinds(service_type=referral.service_type, payer=payer)
    if not required:
        return []
    have = set(referral.documents.values_list("kind_id", flat=True))
    return [k for k in required if k.pk not in have]


def _save(process: ReferralProcess, **facts) -> None:
    """Record routing facts on the process. Inside a flow job they are written with the job's outcome, under the
    process lock (referrals.qjob); elsewhere, now."""
    for name, value in facts.items():
        setattr(process, name, value)
    pending = getattr(process, "job_facts", None)
    if pending is not None:
        pending.update(facts)
    else:
        process.save(update_fields=list(facts))


def run_eligibility(activation) -> None:
    process, actor = activation.process, system_user()
    with transaction.atomic():
        referral = (Referral.objects.select_for_update(of=("self",)).select_related("coverage__payer", "service_type")
                    .get(pk=process.referral_id))
        _stage(referral, R.ELIGIBILITY, "Checking coverage with the payer", actor, locked=True)
    if referral.coverage is None:
        _save(process, eligibility="no-coverage", handoff_reason="No coverage on file: get the patient's insurance.")
        return
    check = eligibility_current(referral.coverage) or eligibility_check(coverage=referral.coverage, actor=actor)
    reasons = {"not-in-force": "The payer says the coverage is not in force: confirm with the patient.",
               "member-unknown": "The payer does not know the member id: check the insurance card.",
               "unreachable": "The payer could not be reached: verify by phone (retried automatically meanwhile).",
               "error": "The payer's answer could not be used: verify by phone."}
    payer = referral.coverage.payer
    needed = prior_auth_required(payer=payer, service_type=referral.service_type) if referral.service_type else None
    _save(process, eligibility=check.outcome, handoff_reason=reasons.get(check.outcome, ""), auth_needed=needed)


def run_authorization(activation) -> None:
    process = activation.process
    referral = Referral.objects.select_related("coverage__payer", "service_type").get(pk=process.referral_id)
    auth = referral.authorizations.exclude(status__in=["cancelled"]).order_by("-pk").first()
    if auth is None:
        with transaction.atomic():
            from .services import referral_link_authorization

            urgency = "expedited" if referral.priority in ("asap", "stat") else "standard"
            auth = authorization_create(coverage=referral.coverage, service_type=referral.service_type,
                                        urgency=urgency, actor=system_user())
            referral_link_authorization(referral=referral, authorization=auth, actor=system_user())
            _stage(referral, R.AUTHORIZATION, f"Prior authorization requested from {referral.coverage.payer.name}")
    outcome = authorization_submit(authorization=auth, actor=system_user())
    auth = outcome.authorization
    reasons = {"pended": "Pended by the payer: waiting for the decision (polled and pushed automatically).",
               "submitted": "Submitted; the payer has not decided yet.",
               "draft": outcome.problem or "The request has not reached the payer yet; it is retried automatically.",
               "denied": f"Denied: {auth.denial_reason}"}
    _save(process, auth_status=auth.status, handoff_reason=reasons.get(auth.status, ""))


def run_match(activation) -> None:
    """Find the earliest fitting slot at the referral's site and book it. (No 'looking for a slot' stage: the search
    takes milliseconds; when it finds nothing, the scheduling task that follows says so.)"""
    process, actor = activation.process, system_user()
    referral = Referral.objects.select_related("service_type", "patient", "site").get(pk=process.referral_id)
    if referral.appointments.filter(status__in=["booked", "pending", "proposed"]).exists():
        _save(process, booked=True)  # booked by an earlier delivery of this job
        return
    service = referral.service_type
    if not service.auto_book:
        _save(process, booked=False, handoff_reason="This service is booked by a person.")
        return
    auth = referral.authorizations.filter(status__in=["approved", "partial"]).first()
    from .services import referral_book_found

    for _search in range(3):  # all taken meanwhile (other workers match the same earliest slots): search again
        candidates = find_slots(service_type=service, sites=[referral.site_id], limit=5,
                                valid_from=auth.valid_from if auth else None, valid_to=auth.valid_to if auth else None)
        for candidate in candidates:
            try:
                referral_book_found(referral=referral, candidate=candidate, actor=actor)
                _save(process, booked=True, handoff_reason="")
                return
            except Conflict:
                continue  # taken meanwhile: try the next one
        if not candidates:
            break
    weeks = settings.SLOT_SEARCH_DAYS // 7
    _save(process, booked=False, handoff_reason=f"No free slot at {referral.site.name} in the next {weeks} weeks"
                                                f"{' within the authorization dates' if auth else ''}.")


def run_notify(activation) -> None:
    from healthops.integrations.messaging import MessagingClient

    referral = Referral.objects.select_related("patient").get(pk=activation.process.referral_id)
    appointment = referral.appointments.filter(status="booked").order_by("-start").first()
    if appointment is None or not (referral.patient.phone or referral.patient.email):
        return
    result = MessagingClient().send(
        channel="sms" if referral.patient.phone else "email",
        to=referral.patient.phone or referral.patient.email,
        body=f"Your appointment at {appointment.site.name} is booked for "
             f"{appointment.start.astimezone(appointment.site.tz):%a %b %-d at %-I:%M %p}. Reply C to confirm.",
        idempotency_key=f"appointment-{appointment.pk}-booked", subject=referral.subject)
    if not result.ok:
        _save(activation.process, handoff_reason=f"The message did not go out: {result.error}"[:300])
        raise RuntimeError("patient message not sent")  # -> .OnError: a person calls the patient
    with transaction.atomic():
        emit("referral.patient-notified", subject=referral.subject, source="referrals", actor=system_user(),
             data={"referral_id": referral.pk, "appointment_id": appointment.pk})


def sla_due(task_type: str, priority: str, start=None):
    start = start or timezone.now()
    rule = TaskSLA.objects.filter(task_type=task_type, priority=priority).first()
    hours = rule.hours if rule else DEFAULT_SLA_HOURS.get(priority, 48)
    if rule and rule.business_days:
        due, left = start, hours
        while left > 0:
            due += timedelta(hours=1)
            if due.weekday() < 5:
                left -= 1
        return due
    return start + timedelta(hours=hours)


def open_work_item(activation) -> None:
    """onCreate of every human task: the queue facts, the referral's stage and reason, and `task.created`."""
    task, process = activation.task, activation.process
    referral = process.referral
    task_type = activation.flow_task.name
    reason = process.handoff_reason or DEFAULT_REASONS.get(task_type, "")
    if task_type == "outreach" and (missing := missing_documents(referral)):
        reason = "Missing: " + ", ".join(k.name.lower() for k in missing) + ". Ask the referrer to send them."
    reason = reason[:300]
    now = timezone.now()
    item = WorkItem.objects.create(task=task, referral=referral, task_type=task_type, reason=reason,
                                   priority=referral.priority, created_at=now,
                                   due_at=sla_due(task_type, referral.priority, now))
    if task_type in TASK_STAGE and not referral.is_final:
        _stage(referral, TASK_STAGE[task_type], reason)
    emit("task.created", subject=referral.subject, source="referrals", actor=system_user(),
         data={"referral_id": referral.pk, "task_id": task.pk, "task_type": task_type, "reason": reason,
               "due_at": item.due_at.isoformat(), "permission": task.owner_permission})
    _save(process, handoff_reason="")
