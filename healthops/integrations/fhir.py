"""Build and parse the payer FHIR R4 resources the sandbox speaks (eligibility, Da Vinci PAS prior authorization).

Pure functions over plain JSON-shaped dicts: no I/O, no Django, no clock (callers pass times and ids in).
HealthOps' integration clients import the parsers; the sandbox uses the builders and the request readers.

Parsers
-------
``parse_eligibility_response(obj)`` takes a CoverageEligibilityResponse (or a Bundle holding one) and returns
``{"outcome", "disposition", "in_force": bool | None, "member_unknown": bool, "errors": [{"system", "code",
"display", "text"}]}``. ``member_unknown`` is true when an error carries X12 reject reason 75 ("Subscriber/Insured
Not Found") or 72 ("Invalid/Missing Subscriber/Insured ID"), or says "not found". The official R4 example E2503
(adjudication-error ``a001`` "Missing Identifier") parses as an error that is *not* an unknown member.

``parse_claim_response(obj)`` takes a ClaimResponse, a PAS response Bundle (first ClaimResponse entry), a PAS
subscription notification (history Bundle holding a response Bundle) or an ``$inquire`` output Parameters
(``responseBundle``), and returns ``{"outcome", "review_action", "auth_number", "valid_from", "valid_to", "units",
"denial_reason", "tracking_id", "claim_identifier", "errors", "member_unknown", "items": [...]}``. The decision is
read where PAS puts it: the ``reviewAction`` extension on ``item[].adjudication`` (then the top-level
``adjudication``, then ``addItem[].adjudication``), ``reviewActionCode`` inside it (X12 306: A1, A2, A3, A4, A6, C,
CT, NA), the certification ``number`` inside it (falling back to ``preAuthRef``), the validity window from the item's
``itemPreAuthPeriod`` extension (falling back to ``preAuthPeriod``), units from ``itemAuthorizedDetail.quantity``,
the denial reason from ``reviewAction.reasonCode`` and the payer's tracking id from the item's
``administrationReferenceNumber`` extension. The top-level fields describe the first adjudicated item; ``items``
lists each one. Dates are returned as the strings the payer sent (``YYYY-MM-DD``). An ``outcome: error`` response
parses with ``review_action`` None and its ``errors``. Anything else malformed raises ``FhirShapeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
EXT_REVIEW_ACTION = PAS_SD + "extension-reviewAction"
EXT_REVIEW_ACTION_CODE = PAS_SD + "extension-reviewActionCode"
EXT_ITEM_PREAUTH_ISSUE_DATE = PAS_SD + "extension-itemPreAuthIssueDate"
EXT_ITEM_PREAUTH_PERIOD = PAS_SD + "extension-itemPreAuthPeriod"
EXT_ITEM_AUTHORIZED_DETAIL = PAS_SD + "extension-itemAuthorizedDetail"
EXT_ITEM_REQUESTED_SERVICE_DATE = PAS_SD + "extension-itemRequestedServiceDate"
EXT_ADMIN_REFERENCE_NUMBER = PAS_SD + "extension-administrationReferenceNumber"
EXT_AUTHORIZATION_NUMBER = PAS_SD + "extension-authorizationNumber"
PROFILE_CLAIM = PAS_SD + "profile-claim"
PROFILE_REQUEST_BUNDLE = PAS_SD + "profile-pas-request-bundle"
PROFILE_CLAIMRESPONSE = PAS_SD + "profile-claimresponse"
PROFILE_RESPONSE_BUNDLE = PAS_SD + "profile-pas-response-bundle"
PROFILE_INQUIRY_RESPONSE = PAS_SD + "profile-claiminquiryresponse"
PROFILE_INQUIRY_RESPONSE_BUNDLE = PAS_SD + "profile-pas-inquiry-response-bundle"
PAS_SUBSCRIPTION_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"

X12_REVIEW_ACTION_SYSTEM = "https://codesystem.x12.org/005010/306"
X12_REVIEW_REASON_SYSTEM = "https://codesystem.x12.org/external/886"
X12_REJECT_REASON_SYSTEM = "https://codesystem.x12.org/005010/901"
ADJUDICATION_ERROR_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication-error"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
# Our own (sandbox) identifier systems: X12 reason code lists are licensed, so denial reasons use a local system.
TRACKING_ID_SYSTEM = "urn:healthops:sandbox:tracking-id"
PAYER_KEY_SYSTEM = "urn:healthops:sandbox:payer"
MEMBER_ID_SYSTEM = "urn:healthops:sandbox:member-id"
DENIAL_REASON_SYSTEM = "urn:healthops:sandbox:denial-reason"

# X12 306 (HCR01), as the PAS examples display them where they show one.
REVIEW_ACTIONS = {
    "A1": "Certified in total", "A2": "Certified - partial", "A3": "Not Certified", "A4": "Pending",
    "A6": "Modified", "C": "Cancelled", "CT": "Contact Payer", "NA": "No Action Required",
}
APPROVED_ACTIONS = {"A1", "A2", "A6"}
OUTCOMES = {"queued", "complete", "error", "partial"}
PURPOSES = ("auth-requirements", "benefits", "discovery", "validation")
# X12 901 (AAA03) reject reasons that mean "we do not know this member".
MEMBER_NOT_FOUND_CODES = {"72", "75"}
MISSING_MEMBER_ID = ("72", "Invalid/Missing Subscriber/Insured ID")
MEMBER_NOT_FOUND = ("75", "Subscriber/Insured Not Found")


class FhirShapeError(ValueError):
    """The JSON is not the FHIR resource we expected (wrong resourceType, missing or ill-typed element)."""


# --------------------------------------------------------------------------------------------------------------
# Small readers
# --------------------------------------------------------------------------------------------------------------

def _require_mapping(obj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise FhirShapeError(f"{what} must be a JSON object, got {type(obj).__name__}.")
    return obj


def _list(obj: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise FhirShapeError(f"{what}.{key} must be a list.")
    return value


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """Lenient reading of request input: the JSON objects in a list (or the object itself); anything else is none."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _object(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _extensions(element: Any, url: str) -> list[Mapping[str, Any]]:
    if not isinstance(element, Mapping):
        return []
    found = element.get("extension") or []
    if not isinstance(found, list):
        raise FhirShapeError("extension must be a list.")
    return [ext for ext in found if isinstance(ext, Mapping) and ext.get("url") == url]


def _extension(element: Any, url: str) -> Mapping[str, Any] | None:
    found = _extensions(element, url)
    return found[0] if found else None


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]


def _concept_text(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in _codings(concept):
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return None


def _first_identifier_value(identifiers: Any) -> str | None:
    for identifier in _objects(identifiers):
        if isinstance(identifier.get("value"), str | int) and str(identifier["value"]):
            return str(identifier["value"])
    return None


def _error_entries(resource: Mapping[str, Any], what: str) -> list[dict[str, str | None]]:
    errors = []
    for error in _list(resource, "error", what):
        code = _require_mapping(error, f"{what}.error[]").get("code")
        codings = _codings(code) or [{}]
        for coding in codings:
            errors.append({"system": coding.get("system"), "code": coding.get("code"),
                           "display": coding.get("display"), "text": (code or {}).get("text")})
    return errors


def _member_unknown(errors: Iterable[Mapping[str, Any]]) -> bool:
    for error in errors:
        if error.get("code") in MEMBER_NOT_FOUND_CODES:
            return True
        words = " ".join(str(error.get(k) or "") for k in ("display", "text")).lower()
        if "not found" in words:
            return True
    return False


def _unwrap(obj: Any, resource_type: str) -> Mapping[str, Any]:
    """Find ``resource_type`` in a bare resource, a Bundle (also nested, as in notifications) or output Parameters."""
    obj = _require_mapping(obj, resource_type)
    kind = obj.get("resourceType")
    if kind == resource_type:
        return obj
    if kind == "Bundle":
        for entry in _list(obj, "entry", "Bundle"):
            inner = _require_mapping(entry, "Bundle.entry[]").get("resource")
            if isinstance(inner, Mapping) and inner.get("resourceType") == resource_type:
                return inner
        for entry in obj.get("entry") or []:
            inner = entry.get("resource")
            if isinstance(inner, Mapping) and inner.get("resourceType") in ("Bundle", "Parameters"):
                try:
                    return _unwrap(inner, resource_type)
                except FhirShapeError:
                    continue  # e.g. a notification's status Parameters: the response Bundle comes next
        raise FhirShapeError(f"Bundle holds no {resource_type}.")
    if kind == "Parameters":
        for parameter in _list(obj, "parameter", "Parameters"):
            if isinstance(parameter, Mapping) and isinstance(parameter.get("resource"), Mapping):
                return _unwrap(parameter["resource"], resource_type)
        raise FhirShapeError(f"Parameters hold no {resource_type}.")
    if kind == "OperationOutcome":
        issues = [i.get("diagnostics") or _concept_text(i.get("details")) or i.get("code")
                  for i in obj.get("issue") or [] if isinstance(i, Mapping)]
        raise FhirShapeError(f"Expected {resource_type}, got an OperationOutcome: {'; '.join(map(str, issues))}")
    raise FhirShapeError(f"Expected {resource_type}, got resourceType {kind!r}.")


# --------------------------------------------------------------------------------------------------------------
# Eligibility
# --------------------------------------------------------------------------------------------------------------

def parse_eligibility_response(obj: Any) -> dict[str, Any]:
    """Read in-force status and errors out of a CoverageEligibilityResponse (see the module docstring)."""
    resource = _unwrap(obj, "CoverageEligibilityResponse")
    outcome = resource.get("outcome")
    if outcome not in OUTCOMES:
        raise FhirShapeError(f"CoverageEligibilityResponse.outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}.")
    in_force = None
    insurance = _list(resource, "insurance", "CoverageEligibilityResponse")
    if insurance:
        value = _require_mapping(insurance[0], "CoverageEligibilityResponse.insurance[0]").get("inforce")
        if value is not None and not isinstance(value, bool):
            raise FhirShapeError("CoverageEligibilityResponse.insurance[0].inforce must be a boolean.")
        in_force = value
    errors = _error_entries(resource, "CoverageEligibilityResponse")
    return {"outcome": outcome, "disposition": resource.get("disposition"), "in_force": in_force,
            "member_unknown": _member_unknown(errors), "errors": errors}


def coverage_member_id(coverage: Mapping[str, Any]) -> str | None:
    """The member id on a Coverage: ``subscriberId``, else the first ``identifier[].value``."""
    if coverage.get("subscriberId"):
        return str(coverage["subscriberId"])
    return _first_identifier_value(coverage.get("identifier"))


def _resolve_coverage(reference: str, container: Mapping[str, Any], bundle: Mapping[str, Any] | None
                      ) -> Mapping[str, Any] | None:
    if reference.startswith("#"):
        for resource in _objects(container.get("contained")):
            if resource.get("id") == reference[1:]:
                return resource
        return None
    for entry in _objects((bundle or {}).get("entry")):
        resource = entry.get("resource")
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "Coverage":
            continue
        local = f"Coverage/{resource.get('id')}"
        if reference in (entry.get("fullUrl"), local) or reference.endswith("/" + local):
            return resource
    return None


def insurance_member_id(resource: Mapping[str, Any], bundle: Mapping[str, Any] | None = None) -> str | None:
    """The member id a request names in its focal (else first) ``insurance[].coverage``.

    Accepted: ``coverage.identifier.value``; a ``#id`` reference to a contained Coverage; a ``Coverage/id`` or full
    URL reference to a Coverage entry of the enclosing Bundle; or, with no coverage element at all, a single
    contained Coverage. A Coverage names the member by ``subscriberId`` or ``identifier[0].value``.
    """
    insurance = _objects(resource.get("insurance"))
    chosen = next((i for i in insurance if i.get("focal")), insurance[0] if insurance else None)
    coverage = chosen.get("coverage") if chosen else None
    if isinstance(coverage, Mapping):
        member = _first_identifier_value(coverage.get("identifier"))
        if member:
            return member
        reference = coverage.get("reference")
        target = _resolve_coverage(reference, resource, bundle) if isinstance(reference, str) else None
        return coverage_member_id(target) if target else None
    contained = [r for r in _objects(resource.get("contained")) if r.get("resourceType") == "Coverage"]
    return coverage_member_id(contained[0]) if len(contained) == 1 else None


def build_eligibility_request(*, member_id: str, payer_identifier: str | None = None,
                              patient_reference: str | None = None, purpose: Iterable[str] = ("validation",),
                              request_id: str | None = None, created: str | None = None) -> dict[str, Any]:
    """A CoverageEligibilityRequest naming the member in a contained Coverage (the form the sandbox documents)."""
    coverage: dict[str, Any] = {"resourceType": "Coverage", "id": "coverage-1", "status": "active",
                                "subscriberId": member_id,
                                "identifier": [{"system": MEMBER_ID_SYSTEM, "value": member_id}],
                                "beneficiary": {"reference": patient_reference or "#patient"},
                                "payor": [{"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer_identifier}}]
                                if payer_identifier else [{"display": "payer"}]}
    request: dict[str, Any] = {"resourceType": "CoverageEligibilityRequest", "contained": [coverage],
                               "status": "active", "purpose": list(purpose),
                               "insurance": [{"focal": True, "coverage": {"reference": "#coverage-1"}}]}
    if request_id:
        request["identifier"] = [{"system": "urn:healthops:eligibility-request", "value": request_id}]
    if patient_reference:
        request["patient"] = {"reference": patient_reference}
    if created:
        request["created"] = created
    if payer_identifier:
        request["insurer"] = {"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer_identifier}}
    return request


def build_eligibility_response(*, request: Mapping[str, Any], response_id: str, payer: str, created: str,
                               in_force: bool | None, error: str | None = None) -> dict[str, Any]:
    """A CoverageEligibilityResponse shaped like the R4 examples E2500 (in force) and E2503 (error).

    ``error`` is None, ``"missing-member-id"`` (adjudication-error a001) or ``"member-not-found"`` (X12 901 code 75).
    """
    response: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse", "id": response_id,
        "identifier": [{"system": TRACKING_ID_SYSTEM, "value": response_id}],
        "status": "active", "purpose": _purpose(request.get("purpose")),
        "patient": _object(request.get("patient")) or {"display": "patient not named in the request"},
        "created": created, "request": _request_reference(request, "CoverageEligibilityRequest"),
        "insurer": {"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer}},
    }
    if error:
        response.update(outcome="error", error=[_eligibility_error(error)],
                        disposition="Eligibility request could not be processed: " + (
                            "member not found." if error == "member-not-found" else "no member identifier."))
        return response
    coverage = _echo_coverage(request)
    response.update(outcome="complete",
                    disposition="Policy is currently in-force." if in_force else "Policy is not in force.",
                    insurance=[{"coverage": coverage, "inforce": bool(in_force)}])
    return response


def _purpose(value: Any) -> list[str]:
    purposes = [p for p in value if p in PURPOSES] if isinstance(value, list) else []
    return purposes or ["validation"]


def _eligibility_error(kind: str) -> dict[str, Any]:
    if kind == "member-not-found":
        code, display = MEMBER_NOT_FOUND
        return {"code": {"coding": [{"system": X12_REJECT_REASON_SYSTEM, "code": code, "display": display}],
                         "text": "member not found"}}
    return {"code": {"coding": [{"system": ADJUDICATION_ERROR_SYSTEM, "code": "a001", "display": "Missing Identifier"}],
                     "text": "no member identifier in insurance[0].coverage"}}


def _echo_coverage(request: Mapping[str, Any]) -> dict[str, Any]:
    insurance = _objects(request.get("insurance"))
    return (_object(insurance[0].get("coverage")) if insurance else None) or {"display": "coverage"}


def _request_reference(request: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    identifiers = _objects(request.get("identifier"))
    if identifiers:
        return {"identifier": {k: v for k, v in identifiers[0].items() if k in ("system", "value")}}
    if isinstance(request.get("id"), str) and request["id"]:
        return {"reference": f"{resource_type}/{request['id']}"}
    return {"display": f"{resource_type} without identifier"}


# --------------------------------------------------------------------------------------------------------------
# Prior authorization (PAS): requests
# --------------------------------------------------------------------------------------------------------------

def submission_claim(body: Any) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The Claim of a ``$submit``/``$inquire`` body: a PAS request Bundle (first Claim entry) or a bare Claim."""
    body = _require_mapping(body, "request body")
    kind = body.get("resourceType")
    if kind == "Claim":
        return body, None
    if kind != "Bundle":
        raise FhirShapeError(f"Expected a Bundle whose first entry is a Claim, or a Claim; got resourceType {kind!r}.")
    for entry in _list(body, "entry", "Bundle"):
        resource = _require_mapping(entry, "Bundle.entry[]").get("resource")
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Claim":
            return resource, body
    raise FhirShapeError("Bundle holds no Claim entry.")


def claim_identifier(claim: Mapping[str, Any]) -> str | None:
    """``Claim.identifier[0].value``: the submitter's trace number, our idempotency fallback."""
    return _first_identifier_value(claim.get("identifier"))


def claim_lookup_keys(claim: Mapping[str, Any]) -> list[str]:
    """Values an inquiry may name a prior submission by: every ``Claim.identifier`` value and, on items, the
    ``authorizationNumber`` / ``administrationReferenceNumber`` extensions (our auth number and tracking id)."""
    keys = [str(i["value"]) for i in _objects(claim.get("identifier")) if isinstance(i.get("value"), str | int)]
    for item in _objects(claim.get("item")):
        for url in (EXT_AUTHORIZATION_NUMBER, EXT_ADMIN_REFERENCE_NUMBER):
            keys += [str(ext["valueString"]) for ext in _extensions(item, url) if ext.get("valueString")]
    return list(dict.fromkeys(keys))


def _item_units(item: Mapping[str, Any]) -> int | float:
    quantity = item.get("quantity")
    value = quantity.get("value") if isinstance(quantity, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value) if float(value).is_integer() else value
    return 1


def claim_summary(claim: Mapping[str, Any], bundle: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parts of a submitted Claim a ClaimResponse echoes, small enough to keep and to persist."""
    items = _objects(claim.get("item")) or [{"sequence": 1}]
    return {
        "identifier": [{k: v for k, v in i.items() if k in ("system", "value")} for i in _objects(claim.get("identifier"))],
        "type": _object(claim.get("type")) or {"coding": [{"system": CLAIM_TYPE_SYSTEM, "code": "professional"}]},
        "patient": _object(claim.get("patient")) or {"display": "patient not named in the request"},
        "requestor": _object(claim.get("provider")),
        "request": _request_reference(claim, "Claim"),
        "items": [{"sequence": _sequence(item.get("sequence"), n), "units": _item_units(item),
                   "product": _object(item.get("productOrService"))} for n, item in enumerate(items, start=1)],
        "bundle_identifier": _object((bundle or {}).get("identifier")),
    }


def _sequence(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def build_claim_bundle(*, claim_identifier: str, member_id: str, service_code: str, units: int = 1,
                       payer_identifier: str | None = None, patient_reference: str = "Patient/1",
                       created: str | None = None, service_system: str = "urn:healthops:service-type",
                       ) -> dict[str, Any]:
    """A minimal PAS-style request Bundle: a Claim (use preauthorization) first, its Coverage entry after it."""
    coverage_url = "urn:uuid:coverage-1"
    claim: dict[str, Any] = {
        "resourceType": "Claim", "meta": {"profile": [PROFILE_CLAIM]},
        "identifier": [{"system": "urn:healthops:authorization", "value": claim_identifier}],
        "status": "active", "type": {"coding": [{"system": CLAIM_TYPE_SYSTEM, "code": "professional"}]},
        "use": "preauthorization", "patient": {"reference": patient_reference},
        "insurer": {"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer_identifier or "payer"}},
        "provider": {"display": "HealthOps"}, "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": coverage_url}}],
        "item": [{"sequence": 1, "productOrService": {"coding": [{"system": service_system, "code": service_code}]},
                  "quantity": {"value": units}}],
    }
    if created:
        claim["created"] = created
    coverage = {"resourceType": "Coverage", "status": "active", "subscriberId": member_id,
                "beneficiary": {"reference": patient_reference}, "payor": [{"display": "payer"}]}
    return {"resourceType": "Bundle", "meta": {"profile": [PROFILE_REQUEST_BUNDLE]},
            "identifier": {"system": "urn:healthops:authorization", "value": claim_identifier},
            "type": "collection", "entry": [{"fullUrl": "urn:uuid:claim-1", "resource": claim},
                                            {"fullUrl": coverage_url, "resource": coverage}]}


# --------------------------------------------------------------------------------------------------------------
# Prior authorization (PAS): responses
# --------------------------------------------------------------------------------------------------------------

def _review_action_extension(decision: Mapping[str, Any]) -> dict[str, Any]:
    action = decision["review_action"]
    parts: list[dict[str, Any]] = []
    if decision.get("auth_number") and action in APPROVED_ACTIONS:
        parts.append({"url": "number", "valueString": decision["auth_number"]})
    parts.append({"url": EXT_REVIEW_ACTION_CODE, "valueCodeableConcept": {"coding": [
        {"system": X12_REVIEW_ACTION_SYSTEM, "code": action, "display": REVIEW_ACTIONS.get(action, action)}]}})
    reason = decision.get("denial_reason")
    if reason and action == "A3":
        parts.append({"url": "reasonCode", "valueCodeableConcept": {
            "coding": [{"system": DENIAL_REASON_SYSTEM, "code": reason["code"], "display": reason["display"]}],
            "text": reason["display"]}})
    return {"extension": parts, "url": EXT_REVIEW_ACTION}


def _response_item(item: Mapping[str, Any], decision: Mapping[str, Any]) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [{"url": EXT_ADMIN_REFERENCE_NUMBER, "valueString": decision["tracking_id"]}]
    if decision["review_action"] in APPROVED_ACTIONS:
        extensions += [
            {"url": EXT_ITEM_PREAUTH_ISSUE_DATE, "valueDate": decision["issued"]},
            {"url": EXT_ITEM_PREAUTH_PERIOD, "valuePeriod": {"start": decision["valid_from"],
                                                            "end": decision["valid_to"]}},
            {"url": EXT_ITEM_AUTHORIZED_DETAIL, "extension": [
                *([{"url": "productOrServiceCode", "valueCodeableConcept": item["product"]}] if item.get("product")
                  else []),
                {"url": "quantity", "valueQuantity": {"value": item["units"]}}]},
        ]
    return {"extension": extensions, "itemSequence": item["sequence"], "adjudication": [{
        "extension": [_review_action_extension(decision)],
        "category": {"coding": [{"system": ADJUDICATION_SYSTEM, "code": "submitted"}]}}]}


def build_claim_response(*, summary: Mapping[str, Any], decision: Mapping[str, Any], response_id: str,
                         payer: str, created: str, inquiry: bool = False) -> dict[str, Any]:
    """A PAS ClaimResponse like the official approved (A1), pended (A4) and denied (A3) examples.

    ``decision``: ``review_action``, ``tracking_id``, ``issued`` (date) and, for approvals, ``auth_number``,
    ``valid_from``, ``valid_to``; for denials, ``denial_reason`` ``{"code", "display"}``.
    """
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse", "id": response_id,
        "meta": {"profile": [PROFILE_INQUIRY_RESPONSE if inquiry else PROFILE_CLAIMRESPONSE]},
        "identifier": [*summary["identifier"], {"system": TRACKING_ID_SYSTEM, "value": decision["tracking_id"]}],
        "status": "active", "type": summary["type"], "use": "preauthorization", "patient": summary["patient"],
        "created": created, "insurer": {"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer}},
        "request": summary["request"], "outcome": "complete",
        "item": [_response_item(item, decision) for item in summary["items"]],
    }
    if summary.get("requestor"):
        response["requestor"] = summary["requestor"]
    if decision["review_action"] in APPROVED_ACTIONS:
        response["preAuthRef"] = decision["auth_number"]
        response["preAuthPeriod"] = {"start": decision["valid_from"], "end": decision["valid_to"]}
    return response


def build_claim_error_response(*, summary: Mapping[str, Any], response_id: str, payer: str, created: str,
                               reject: tuple[str, str], tracking_id: str) -> dict[str, Any]:
    """A PAS ClaimResponse with ``outcome: error`` (like ErrorResponseExample), X12 901 reject reason in ``error``."""
    code, display = reject
    return {
        "resourceType": "ClaimResponse", "id": response_id, "meta": {"profile": [PROFILE_CLAIMRESPONSE]},
        "identifier": [*summary["identifier"], {"system": TRACKING_ID_SYSTEM, "value": tracking_id}],
        "status": "active", "type": summary["type"], "use": "preauthorization", "patient": summary["patient"],
        "created": created, "insurer": {"identifier": {"system": PAYER_KEY_SYSTEM, "value": payer}},
        "request": summary["request"], "outcome": "error",
        "error": [{"code": {"coding": [{"system": X12_REJECT_REASON_SYSTEM, "code": code, "display": display}],
                            "text": display}}],
    }


def build_response_bundle(claim_response: Mapping[str, Any], *, bundle_id: str, timestamp: str, full_url: str,
                          identifier: Mapping[str, Any] | None = None, inquiry: bool = False) -> dict[str, Any]:
    """The PAS response Bundle (type collection, ClaimResponse first), echoing the request Bundle's identifier."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": bundle_id,
        "meta": {"profile": [PROFILE_INQUIRY_RESPONSE_BUNDLE if inquiry else PROFILE_RESPONSE_BUNDLE]},
        "type": "collection", "timestamp": timestamp, "entry": [{"fullUrl": full_url, "resource": claim_response}],
    }
    if identifier:
        bundle["identifier"] = dict(identifier)
    return bundle


def build_subscription_notification(*, response_bundle: Mapping[str, Any], bundle_url: str, event_number: int,
                                    timestamp: str, subscription: str, status_url: str) -> dict[str, Any]:
    """A PAS subscription notification: history Bundle, Parameters (status) first, the response Bundle second."""
    parameters = {"resourceType": "Parameters", "id": f"notification-{event_number}", "parameter": [
        {"name": "subscription", "valueReference": {"reference": subscription}},
        {"name": "topic", "valueCanonical": PAS_SUBSCRIPTION_TOPIC},
        {"name": "type", "valueCode": "event-notification"},
        {"name": "notification-event", "part": [
            {"name": "event-number", "valueString": str(event_number)},
            {"name": "timestamp", "valueInstant": timestamp},
            {"name": "focus", "valueReference": {"reference": bundle_url}}]},
    ]}
    return {"resourceType": "Bundle", "id": f"notification-{event_number}", "type": "history", "timestamp": timestamp,
            "entry": [
                {"fullUrl": f"{status_url}#{event_number}", "resource": parameters,
                 "request": {"method": "GET", "url": status_url}, "response": {"status": "200"}},
                {"fullUrl": bundle_url, "resource": response_bundle,
                 "request": {"method": "GET", "url": bundle_url}, "response": {"status": "200"}},
            ]}


def build_operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue (``code`` from the FHIR issue-type value set, e.g. invalid, not-found)."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


# --------------------------------------------------------------------------------------------------------------
# Prior authorization (PAS): parsing
# --------------------------------------------------------------------------------------------------------------

def _review_action(adjudication: Any) -> dict[str, Any] | None:
    review = _extension(adjudication, EXT_REVIEW_ACTION)
    if review is None:
        return None
    code_ext = _extension(review, EXT_REVIEW_ACTION_CODE)
    codes = [c.get("code") for c in _codings((code_ext or {}).get("valueCodeableConcept")) if c.get("code")]
    if not codes:
        raise FhirShapeError("reviewAction extension without a reviewActionCode.")
    if codes[0] not in REVIEW_ACTIONS:
        raise FhirShapeError(f"Unknown reviewActionCode {codes[0]!r} (expected one of {sorted(REVIEW_ACTIONS)}).")
    number = _extension(review, "number")
    reason = _extension(review, "reasonCode")
    return {"review_action": codes[0], "auth_number": (number or {}).get("valueString"),
            "denial_reason": _concept_text((reason or {}).get("valueCodeableConcept"))}


def _item_decision(item: Mapping[str, Any], sequence: Any) -> dict[str, Any] | None:
    for adjudication in _list(item, "adjudication", "ClaimResponse.item[]"):
        decision = _review_action(adjudication)
        if decision is None:
            continue
        period = (_extension(item, EXT_ITEM_PREAUTH_PERIOD) or {}).get("valuePeriod") or {}
        detail = _extension(item, EXT_ITEM_AUTHORIZED_DETAIL)
        quantity = ((_extension(detail, "quantity") or {}).get("valueQuantity") or {}).get("value")
        tracking = (_extension(item, EXT_ADMIN_REFERENCE_NUMBER) or {}).get("valueString")
        return {"sequence": sequence, **decision, "valid_from": period.get("start"), "valid_to": period.get("end"),
                "units": quantity, "tracking_id": tracking}
    return None


def _all_item_decisions(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    decisions = []
    for item in _list(resource, "item", "ClaimResponse"):
        item = _require_mapping(item, "ClaimResponse.item[]")
        found = _item_decision(item, item.get("itemSequence"))
        if found:
            decisions.append(found)
    if not decisions:
        found = _item_decision(resource, None)
        decisions += [found] if found else []
    for item in _list(resource, "addItem", "ClaimResponse"):
        item = _require_mapping(item, "ClaimResponse.addItem[]")
        found = _item_decision(item, (item.get("itemSequence") or [None])[0])
        decisions += [found] if found else []
    return decisions


def parse_claim_response(obj: Any) -> dict[str, Any]:
    """Read the PAS decision out of a ClaimResponse or its envelopes (see the module docstring)."""
    resource = _unwrap(obj, "ClaimResponse")
    outcome = resource.get("outcome")
    if outcome not in OUTCOMES:
        raise FhirShapeError(f"ClaimResponse.outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}.")
    errors = _error_entries(resource, "ClaimResponse")
    items = _all_item_decisions(resource)
    if not items and outcome != "error":
        raise FhirShapeError("ClaimResponse carries no reviewAction/reviewActionCode on any adjudication.")
    tracking = next((i["value"] for i in resource.get("identifier") or []
                     if isinstance(i, Mapping) and i.get("system") == TRACKING_ID_SYSTEM), None)
    first = dict(items[0]) if items else {}
    period = resource.get("preAuthPeriod") if isinstance(resource.get("preAuthPeriod"), Mapping) else {}
    approved = first.get("review_action") in APPROVED_ACTIONS
    return {
        "outcome": outcome,
        "review_action": first.get("review_action"),
        "auth_number": first.get("auth_number") or (resource.get("preAuthRef") if approved else None),
        "valid_from": first.get("valid_from") or period.get("start"),
        "valid_to": first.get("valid_to") or period.get("end"),
        "units": first.get("units"),
        "denial_reason": first.get("denial_reason"),
        "tracking_id": first.get("tracking_id") or tracking,
        "claim_identifier": next((str(i["value"]) for i in resource.get("identifier") or []
                                  if isinstance(i, Mapping) and i.get("value") and i.get("system") != TRACKING_ID_SYSTEM),
                                 None),
        "errors": errors,
        "member_unknown": _member_unknown(errors),
        "items": items,
    }
