"""Conversations with payers: eligibility checks, prior-authorization submissions, inquiries and notifications.

These functions do network I/O, so they are deliberately *not* atomic: the payer is called outside any transaction,
then the answer is recorded through the atomic services in `authorizations.services`. Each is idempotent (a job may
run twice): the PAS Claim carries a stable identifier and idempotency key per authorization.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from healthops.errors import DomainError
from healthops.events import emit
from healthops.integrations.client import Result
from healthops.integrations.payer import PayerClient

from .models import Appeal, Authorization, Coverage, EligibilityCheck
from .services import authorization_mark_submitted, authorization_record_decision, eligibility_record

log = logging.getLogger(__name__)
E = EligibilityCheck.Outcome
A = Authorization.Status


def eligibility_current(coverage: Coverage, now: datetime | None = None) -> EligibilityCheck | None:
    """The latest definitive answer (in force / not / unknown member) that is not stale, or None."""
    fresh_after = (now or timezone.now()) - timedelta(hours=settings.ELIGIBILITY_STALE_HOURS)
    return (EligibilityCheck.objects.filter(coverage=coverage, checked_at__gte=fresh_after)
            .exclude(outcome__in=[E.UNREACHABLE, E.ERROR]).order_by("-checked_at").first())


def eligibility_check(*, coverage: Coverage, actor, purpose: str = "validation",
                      client: PayerClient | None = None) -> EligibilityCheck:
    """Ask the payer whether the coverage is in force and record the answer. When the payer cannot be reached the
    recorded outcome is `unreachable` (a person can verify by phone; `retry_unreachable_eligibility` tries again)."""
    payer = coverage.payer
    request_id = f"HO-ELIG-{coverage.pk}-{timezone.now():%Y%m%d%H%M%S%f}"
    result = (client or PayerClient()).check_eligibility(
        payer_key=payer.sandbox_key, payer_identifier=payer.identifier, member_id=coverage.member_id,
        subject=f"coverage/{coverage.pk}", request_id=request_id, purpose=purpose)
    outcome, note = _eligibility_outcome(result)
    return eligibility_record(coverage=coverage, outcome=outcome, source=EligibilityCheck.Source.PAYER_API,
                              purpose=purpose, note=note, payer_reference=request_id, actor=actor)


def _eligibility_outcome(result: Result) -> tuple[str, str]:
    if result.ok:
        body = result.body
        if body["member_unknown"]:
            return E.MEMBER_UNKNOWN, "The payer does not know this member id."
        return (E.IN_FORCE, "") if body["in_force"] else (E.NOT_IN_FORCE, "The payer says the coverage is not in force.")
    if result.unreachable:
        return E.UNREACHABLE, f"The payer could not be reached after {result.attempts} attempt(s): {result.error}"[:300]
    return E.ERROR, f"The payer's answer could not be used: {result.error}"[:300]


def retry_unreachable_eligibility(*, actor, older_than: timedelta = timedelta(minutes=2), limit: int = 200) -> int:
    """Check again every coverage whose latest answer is `unreachable` or `error`, once the payer may be back."""
    from django.db.models import OuterRef, Subquery

    latest = EligibilityCheck.objects.filter(coverage=OuterRef("pk")).order_by("-checked_at")
    cutoff = timezone.now() - older_than
    waiting = (Coverage.objects.annotate(last_outcome=Subquery(latest.values("outcome")[:1]),
                                         last_at=Subquery(latest.values("checked_at")[:1]))
               .filter(last_outcome__in=[E.UNREACHABLE, E.ERROR], last_at__lte=cutoff)
               .select_related("payer")[:limit])
    from healthops.integrations.client import circuit_open

    if circuit_open("payer"):
        return 0  # the breaker's half-open probe will come from the next regular call
    done = 0
    for coverage in waiting:
        check = eligibility_check(coverage=coverage, actor=actor)
        done += check.outcome not in {E.UNREACHABLE, E.ERROR}
    return done


@dataclass
class SubmitOutcome:
    authorization: Authorization
    submitted: bool
    problem: str = ""


def authorization_submit(*, authorization: Authorization, actor, client: PayerClient | None = None) -> SubmitOutcome:
    """Send the PAS request and record the payer's first answer (A1 approved, A3 denied, A4 pended).

    Safe to repeat: a draft whose earlier submission got lost is resent with the same Claim identifier and
    idempotency key, so the payer sees one request; a submitted one is not sent again."""
    auth = Authorization.objects.select_related("coverage__payer", "service_type").get(pk=authorization.pk)
    if auth.status != A.DRAFT:
        return SubmitOutcome(auth, submitted=auth.status != A.CANCELLED)
    payer = auth.coverage.payer
    result = (client or PayerClient()).submit_authorization(
        payer_key=payer.sandbox_key, payer_identifier=payer.identifier, claim_identifier=auth.claim_identifier,
        member_id=auth.coverage.member_id, service_code=auth.service_type.code, units=auth.units_requested,
        expedited=auth.urgency == Authorization.Urgency.EXPEDITED, subject=f"authorization/{auth.pk}")
    if not result.ok:
        problem = ("The payer could not be reached; the submission will be retried." if result.unreachable
                   else f"The payer refused or garbled the submission: {result.error}")
        _note_problem(auth, problem, actor=actor, event="authorization.submission-failed", result=result)
        return SubmitOutcome(auth, submitted=False, problem=problem)
    with transaction.atomic():
        auth = authorization_mark_submitted(authorization=auth, actor=actor,
                                            payer_tracking_id=result.body.get("tracking_id") or "")
        auth = _record_answer(auth, result.body, actor=actor)
    return SubmitOutcome(auth, submitted=True, problem=auth.last_error)


def authorization_inquire(*, authorization: Authorization, actor, client: PayerClient | None = None) -> Authorization:
    """Poll the payer for a pended authorization's decision ($inquire)."""
    auth = Authorization.objects.select_related("coverage__payer", "service_type").get(pk=authorization.pk)
    if auth.status != A.PENDED:
        return auth
    payer = auth.coverage.payer
    result = (client or PayerClient()).inquire_authorization(
        payer_key=payer.sandbox_key, payer_identifier=payer.identifier, claim_identifier=auth.claim_identifier,
        member_id=auth.coverage.member_id, service_code=auth.service_type.code, subject=f"authorization/{auth.pk}")
    if not result.ok:
        _note_problem(auth, f"Inquiry failed: {result.error}", actor=actor, event=None, result=result)
        return auth
    with transaction.atomic():
        return _record_answer(auth, result.body, actor=actor)


def authorization_notification(*, body: dict, actor) -> Authorization:
    """A payer pushed a decision (PAS subscription notification). Unknown claims are refused with a clear error."""
    from healthops.integrations import fhir

    try:
        parsed = fhir.parse_claim_response(body)
    except fhir.FhirShapeError as exc:
        raise DomainError(f"The notification is not a PAS ClaimResponse: {exc}", code="malformed") from exc
    claim_id = parsed.get("claim_identifier") or ""
    if not claim_id.startswith("HO-AUTH-") or not claim_id[8:].isdigit():
        raise DomainError("The notification names no authorization of ours.", code="unknown-claim")
    auth = Authorization.objects.filter(pk=int(claim_id[8:])).select_related("coverage__payer").first()
    if auth is None:
        raise DomainError("The notification names no authorization of ours.", code="unknown-claim")
    if auth.status not in {A.SUBMITTED, A.PENDED}:
        return auth  # already decided (the poll got there first): a duplicate push changes nothing
    with transaction.atomic():
        return _record_answer(auth, parsed, actor=actor)


def _record_answer(auth: Authorization, parsed: dict, *, actor) -> Authorization:
    action = parsed.get("review_action")
    if action is None:  # an error answer: leave it with a person
        auth.last_error = "; ".join(e.get("text") or e.get("display") or e.get("code") or "error"
                                    for e in parsed.get("errors", []))[:500] or "The payer answered with an error."
        auth.save(update_fields=["last_error"])
        return auth
    if action == Authorization.Decision.A4 and auth.status == A.PENDED:
        return auth  # still pended: nothing new
    if action in {"CT", "NA"}:
        auth.last_error = ("The payer asks us to contact them." if action == "CT"
                           else "The payer says no authorization is required.")
        auth.save(update_fields=["last_error"])
        return auth
    return authorization_record_decision(
        authorization=auth, decision_code=action, actor=actor, auth_number=parsed.get("auth_number") or "",
        valid_from=_date(parsed.get("valid_from")), valid_to=_date(parsed.get("valid_to")),
        units_approved=int(parsed["units"]) if parsed.get("units") else None,
        denial_reason=parsed.get("denial_reason") or ("Denied by the payer" if action == "A3" else ""))


def _note_problem(auth: Authorization, problem: str, *, actor, event: str | None, result: Result) -> None:
    with transaction.atomic():
        Authorization.objects.filter(pk=auth.pk).update(last_error=problem[:500])
        if event:
            emit(event, subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
                 data={"authorization_id": auth.pk, "outcome": result.outcome, "attempts": result.attempts})
    auth.last_error = problem[:500]


def _date(value) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def follow_up_pended(*, actor, limit: int = 200) -> int:
    """Poll every pended authorization (a notification may have been lost). Runs on a schedule."""
    decided = 0
    # Only what we submitted over the API has a payer tracking id to ask about; older pends are followed by people.
    for auth in Authorization.objects.filter(status=A.PENDED).exclude(payer_tracking_id="").order_by("due_at")[:limit]:
        decided += authorization_inquire(authorization=auth, actor=actor).status != A.PENDED
    return decided


def retry_unsent(*, actor, older_than: timedelta = timedelta(minutes=1), limit: int = 200) -> int:
    """Resend drafts whose submission failed (payer was down). Runs on a schedule; resumes by itself."""
    from healthops.integrations.client import circuit_open

    if circuit_open("payer"):
        return 0
    sent = 0
    cutoff = timezone.now() - older_than
    for auth in Authorization.objects.filter(status=A.DRAFT, created_at__lte=cutoff).exclude(last_error="")[:limit]:
        sent += authorization_submit(authorization=auth, actor=actor).submitted
    return sent


@transaction.atomic
def appeal_submit(*, authorization: Authorization, grounds: str, actor) -> Appeal:
    auth = Authorization.objects.select_for_update().get(pk=authorization.pk)
    if auth.status != A.DENIED:
        raise DomainError("Only a denied authorization can be appealed.")
    if len(grounds.strip()) < 20:
        raise DomainError("Say why the denial should be reversed (at least a sentence).")
    if auth.appeals.filter(outcome=Appeal.Outcome.PENDING).exists():
        raise DomainError("An appeal of this denial is already waiting for the payer.")
    appeal = Appeal.objects.create(authorization=auth, grounds=grounds.strip(), submitted_at=timezone.now(),
                                   submitted_by=actor if getattr(actor, "pk", None) else None)
    emit("authorization.appealed", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         data={"authorization_id": auth.pk, "appeal_id": appeal.pk})
    return appeal


@transaction.atomic
def appeal_record_outcome(*, appeal: Appeal, outcome: str, actor, auth_number: str = "", valid_from=None,
                          valid_to=None) -> Appeal:
    appeal = Appeal.objects.select_for_update().select_related("authorization").get(pk=appeal.pk)
    if appeal.outcome != Appeal.Outcome.PENDING:
        raise DomainError("This appeal already has an outcome.")
    if outcome not in {Appeal.Outcome.OVERTURNED, Appeal.Outcome.UPHELD, Appeal.Outcome.WITHDRAWN}:
        raise DomainError("An appeal is overturned, upheld or withdrawn.")
    if outcome == Appeal.Outcome.OVERTURNED and not (auth_number and valid_from and valid_to):
        raise DomainError("An overturned denial needs the authorization number and its validity dates.")
    appeal.outcome, appeal.decided_at = outcome, timezone.now()
    appeal.save(update_fields=["outcome", "decided_at"])
    auth = appeal.authorization
    if outcome == Appeal.Outcome.OVERTURNED:
        auth.status, auth.decision_code, auth.auth_number = A.APPROVED, "A1", auth_number
        auth.valid_from, auth.valid_to, auth.units_approved = valid_from, valid_to, auth.units_requested
        auth.save()
    emit("authorization.appeal-decided", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
         data={"authorization_id": auth.pk, "appeal_id": appeal.pk, "outcome": outcome})
    return appeal


def alert_expiring(*, actor, within_days: int = 14, now: datetime | None = None) -> int:
    """Emit `authorization.expiring` once for each approved authorization whose validity ends soon."""
    today = (now or timezone.now()).date()
    due = Authorization.objects.filter(status__in=[A.APPROVED, A.PARTIAL], expiry_alerted_at__isnull=True,
                                       valid_to__gte=today, valid_to__lte=today + timedelta(days=within_days))
    count = 0
    for auth in due:
        with transaction.atomic():
            # Re-check under lock: the job may run twice at once.
            locked = Authorization.objects.select_for_update().get(pk=auth.pk)
            if locked.expiry_alerted_at:
                continue
            locked.expiry_alerted_at = timezone.now()
            locked.save(update_fields=["expiry_alerted_at"])
            emit("authorization.expiring", subject=f"authorization/{auth.pk}", source="authorizations", actor=actor,
                 data={"authorization_id": auth.pk, "valid_to": auth.valid_to.isoformat(),
                       "units_left": locked.units_left})
            count += 1
    return count
