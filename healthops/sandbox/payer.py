"""The simulated payers: eligibility, PAS prior-authorization submit and inquire, and later decisions for pends.

Who is a member (the same for every payer key):
  ``TEST-ACTIVE-*`` in force, authorizations approved at once (A1); ``TEST-INACTIVE-*`` not in force (eligibility
  says ``inforce: false``; an authorization is denied, A3, reason coverage-not-in-force); ``TEST-PEND-*`` in force,
  pended (A4) and approved (A1) later; ``TEST-DENY-*`` in force, denied (A3). Then members loaded with
  ``--members`` / ``POST /_control/members`` (``payer`` may be ``"*"``); then ``MBR-*`` (the demo network) in force
  and approved. Anything else is unknown: eligibility answers ``outcome: error`` with X12 901 code 75, a claim
  answers a ClaimResponse with ``outcome: error`` and the same code (72 when no member id could be found at all).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..integrations import fhir
from .state import SandboxState, epoch
from .web import HttpError

logger = logging.getLogger("healthops.sandbox")

TEST_MEMBERS = (("TEST-ACTIVE-", True, "A1"), ("TEST-INACTIVE-", False, "A1"),
                ("TEST-PEND-", True, "A4"), ("TEST-DENY-", True, "A3"))
NOT_MEDICALLY_NECESSARY = {"code": "not-medically-necessary",
                           "display": "Not medically necessary under the plan's criteria"}
NOT_IN_FORCE = {"code": "coverage-not-in-force", "display": "Coverage not in force"}


@dataclass(frozen=True)
class MemberStatus:
    in_force: bool
    review_action: str  # what an authorization request for this member gets: A1, A3 or A4


def member_status(members: Mapping[tuple[str, str], Mapping[str, Any]], payer: str, member_id: str | None
                  ) -> MemberStatus | None:
    """The rules in the module docstring; None for an unknown (or unnamed) member."""
    if not member_id:
        return None
    upper = member_id.upper()
    for prefix, in_force, action in TEST_MEMBERS:
        if upper.startswith(prefix):
            return MemberStatus(in_force, action)
    row = members.get((payer, member_id)) or members.get(("*", member_id))
    if row:
        return MemberStatus(row["in_force"], row["review_action"])
    if upper.startswith("MBR-"):
        return MemberStatus(True, "A1")
    return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _today() -> date:
    return datetime.now(UTC).date()


# ----------------------------------------------------------------------------------------------------------------
# Eligibility
# ----------------------------------------------------------------------------------------------------------------

def check_eligibility(state: SandboxState, payer: str, body: Any) -> dict[str, Any]:
    """Answer one CoverageEligibilityRequest with a CoverageEligibilityResponse."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "CoverageEligibilityRequest":
        raise HttpError(400, "Expected a CoverageEligibilityRequest resource.", fhir=True)
    member_id = fhir.insurance_member_id(body)
    with state.lock:
        state.counts["eligibility_requests"] += 1
        status = member_status(state.members, payer, member_id)
        response_id = f"CER-{state.next_id('eligibility'):06d}"
        state.touch()
    error = "missing-member-id" if not member_id else ("member-not-found" if status is None else None)
    logger.info("eligibility payer=%s member=[member-id] in_force=%s error=%s", payer,
                status.in_force if status else None, error)
    return fhir.build_eligibility_response(request=body, response_id=response_id, payer=payer, created=now_iso(),
                                           in_force=status.in_force if status else None, error=error)


# ----------------------------------------------------------------------------------------------------------------
# Prior authorization
# ----------------------------------------------------------------------------------------------------------------

def _approve(state: SandboxState, decision: dict[str, Any]) -> None:
    today = _today()
    decision.update(review_action="A1", auth_number=f"AUTH-{state.next_id('auth'):06d}", issued=today.isoformat(),
                    valid_from=today.isoformat(),
                    valid_to=(today + timedelta(days=state.config.approval_days)).isoformat())


def _initial_decision(state: SandboxState, status: MemberStatus | None, member_named: bool, tracking_id: str
                      ) -> dict[str, Any]:
    decision: dict[str, Any] = {"tracking_id": tracking_id, "issued": _today().isoformat(), "review_action": None,
                                "auth_number": None, "valid_from": None, "valid_to": None, "denial_reason": None,
                                "reject": None}
    if status is None:
        decision["reject"] = list(fhir.MEMBER_NOT_FOUND if member_named else fhir.MISSING_MEMBER_ID)
    elif not status.in_force:
        decision.update(review_action="A3", denial_reason=NOT_IN_FORCE)
    elif status.review_action == "A1":
        _approve(state, decision)
    elif status.review_action == "A3":
        decision.update(review_action="A3", denial_reason=NOT_MEDICALLY_NECESSARY)
    else:
        decision["review_action"] = "A4"
    return decision


def response_bundle(submission: Mapping[str, Any], base_url: str, *, inquiry: bool = False) -> dict[str, Any]:
    """The current answer for a submission, as a PAS response Bundle."""
    decision, summary, payer = submission["decision"], submission["summary"], submission["payer"]
    tracking_id = submission["tracking_id"]
    created = submission.get("decided_at") or submission["created_at"]
    if decision["review_action"] is None:
        claim_response = fhir.build_claim_error_response(summary=summary, response_id=tracking_id, payer=payer,
                                                         created=created, reject=tuple(decision["reject"]),
                                                         tracking_id=tracking_id)
    else:
        claim_response = fhir.build_claim_response(summary=summary, decision=decision, response_id=tracking_id,
                                                   payer=payer, created=created, inquiry=inquiry)
    return fhir.build_response_bundle(
        claim_response, bundle_id=f"{tracking_id}-v{submission['version']}", timestamp=now_iso(),
        full_url=f"{base_url}/payer/{payer}/ClaimResponse/{tracking_id}", identifier=summary["bundle_identifier"],
        inquiry=inquiry)


def _create_submission(state: SandboxState, payer: str, key: str, body: Any, base_url: str) -> dict[str, Any]:
    claim, bundle = fhir.submission_claim(body)
    member_id = fhir.insurance_member_id(claim, bundle)
    tracking_id = f"TRK-{state.next_id('submission'):06d}"
    status = member_status(state.members, payer, member_id)
    decision = _initial_decision(state, status, bool(member_id), tracking_id)
    pended = decision["review_action"] == "A4"
    claim_id = fhir.claim_identifier(claim)
    submission: dict[str, Any] = {
        "tracking_id": tracking_id, "payer": payer, "key": key, "claim_identifier": claim_id,
        "summary": fhir.claim_summary(claim, bundle), "decision": decision, "version": 1,
        "created_at": now_iso(), "decided_at": None if pended else now_iso(),
        "due_at": epoch() + state.config.decide_after_seconds if pended else None,
        "lookup_values": [v for v in (claim_id, tracking_id, decision["auth_number"]) if v],
    }
    submission["first_response"] = response_bundle(submission, base_url)
    state.submissions[tracking_id] = submission
    state.by_key[f"{payer} {key}"] = tracking_id
    for value in submission["lookup_values"]:
        state.index(payer, value, tracking_id)
    state.counts["created"] += 1
    logger.info("prior auth submitted payer=%s member=[member-id] tracking_id=%s review_action=%s", payer,
                tracking_id, decision["review_action"] or "error " + decision["reject"][0])
    return submission


def submit(state: SandboxState, payer: str, body: Any, *, idempotency_key: str | None, base_url: str
           ) -> dict[str, Any]:
    """``Claim/$submit``: the first answer for a key (Idempotency-Key header, else Claim.identifier) is replayed."""
    try:
        claim, _ = fhir.submission_claim(body)
    except fhir.FhirShapeError as exc:
        raise HttpError(400, str(exc), fhir=True) from exc
    key = idempotency_key or fhir.claim_identifier(claim)
    if not key:
        raise HttpError(400, "Claim.identifier is required (or send an Idempotency-Key header).", fhir=True,
                        code="required")
    with state.lock:  # the check and the create are one step, so concurrent retries cannot both create
        state.submission_counts[key] += 1
        state.touch()
        existing = state.submissions.get(state.by_key.get(f"{payer} {key}", ""))
        if existing:
            state.counts["submit_duplicates"] += 1
            logger.info("prior auth duplicate payer=%s tracking_id=%s", payer, existing["tracking_id"])
            return existing["first_response"]
        return _create_submission(state, payer, key, body, base_url)["first_response"]


def _inquiry_keys(body: Any) -> list[str]:
    if isinstance(body, Mapping) and body.get("resourceType") in ("Bundle", "Claim"):
        claim, _ = fhir.submission_claim(body)
        return fhir.claim_lookup_keys(claim)
    if isinstance(body, Mapping):
        values = [body.get(k) for k in ("identifier", "tracking_id", "preAuthRef", "auth_number")]
        return [str(v) for v in values if isinstance(v, str | int) and str(v)]
    raise fhir.FhirShapeError("Expected a PAS inquiry Bundle, a Claim, or {\"identifier\": ...}.")


def inquire(state: SandboxState, payer: str, body: Any, *, base_url: str) -> dict[str, Any]:
    """``Claim/$inquire``: the current answer for a submission named by claim identifier, tracking id or auth no."""
    try:
        keys = _inquiry_keys(body)
    except fhir.FhirShapeError as exc:
        raise HttpError(400, str(exc), fhir=True) from exc
    with state.lock:
        state.counts["inquiries"] += 1
        state.touch()
        for key in keys:
            found = state.lookup(payer, key)
            if found:
                return response_bundle(found, base_url, inquiry=True)
    raise HttpError(404, "No prior authorization request at this payer matches the inquiry.", fhir=True,
                    code="not-found")


def claim_response(state: SandboxState, payer: str, tracking_id: str, *, base_url: str) -> dict[str, Any]:
    """``GET ClaimResponse/<tracking id>``: the current ClaimResponse alone."""
    with state.lock:
        found = state.lookup(payer, tracking_id)
        if not found:
            raise HttpError(404, "Unknown ClaimResponse.", fhir=True, code="not-found")
        return response_bundle(found, base_url)["entry"][0]["resource"]


# ----------------------------------------------------------------------------------------------------------------
# Later decisions for pended requests
# ----------------------------------------------------------------------------------------------------------------

def _decide(state: SandboxState, submission: dict[str, Any], review_action: str) -> None:
    decision = submission["decision"]
    if review_action == "A1":
        _approve(state, decision)
        state.index(submission["payer"], decision["auth_number"], submission["tracking_id"])
        submission["lookup_values"].append(decision["auth_number"])
    else:
        decision.update(review_action="A3", denial_reason=NOT_MEDICALLY_NECESSARY, issued=_today().isoformat())
    submission.update(decided_at=now_iso(), due_at=None, version=submission["version"] + 1)
    state.counts["decisions_later"] += 1
    logger.info("prior auth decided payer=%s tracking_id=%s review_action=%s", submission["payer"],
                submission["tracking_id"], review_action)


def notification(state: SandboxState, submission: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The PAS subscription notification announcing a submission's current answer."""
    payer = submission["payer"]
    bundle = response_bundle(submission, base_url)
    subscription = f"Subscription/healthops-{payer}"
    return fhir.build_subscription_notification(
        response_bundle=bundle, bundle_url=f"{base_url}/payer/{payer}/Bundle/{bundle['id']}",
        event_number=state.next_id("event_number"), timestamp=now_iso(), subscription=subscription,
        status_url=f"{base_url}/payer/{payer}/{subscription}/$status")


def decide_pending(state: SandboxState, *, base_url: str, due_only: bool, tracking_id: str | None = None,
                   claim_identifier: str | None = None, review_action: str = "A1"
                   ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Decide pended submissions (the due ones, or those named); returns (submission, notification) pairs."""
    if review_action not in ("A1", "A3"):
        raise HttpError(400, "review_action for a later decision must be A1 or A3.")
    decided = []
    with state.lock:
        now = epoch()
        for submission in list(state.submissions.values()):
            if submission["decision"]["review_action"] != "A4":
                continue
            if due_only and submission["due_at"] > now:
                continue
            if tracking_id and submission["tracking_id"] != tracking_id:
                continue
            if claim_identifier and submission["claim_identifier"] != claim_identifier:
                continue
            _decide(state, submission, review_action)
            decided.append((submission, notification(state, submission, base_url)))
        if decided:
            state.touch()
    return decided
