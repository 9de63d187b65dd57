"""Payers over FHIR R4: coverage eligibility and Da Vinci PAS prior authorization ($submit, $inquire)."""

from django.conf import settings

from . import fhir
from .client import IntegrationClient, Result

FHIR_JSON = "application/fhir+json"


class PayerClient(IntegrationClient):
    system = "payer"

    def __init__(self, base_url: str | None = None, **kwargs):
        super().__init__(base_url or settings.PAYER_URL, **kwargs)

    def check_eligibility(self, *, payer_key: str, payer_identifier: str, member_id: str, subject: str,
                          request_id: str, purpose: str = "validation") -> Result:
        """Result.body: {"in_force": bool | None, "member_unknown": bool, ...} (see fhir.parse_eligibility_response)."""
        body = fhir.build_eligibility_request(member_id=member_id, payer_identifier=payer_identifier,
                                              purpose=[purpose], request_id=request_id)
        return self.request("eligibility", "POST", f"/{payer_key}/CoverageEligibilityRequest", body=body,
                            subject=subject, idempotency_key=request_id, content_type=FHIR_JSON,
                            parse=_checked(fhir.parse_eligibility_response, _eligibility_makes_sense))

    def submit_authorization(self, *, payer_key: str, payer_identifier: str, claim_identifier: str, member_id: str,
                             service_code: str, units: int, expedited: bool, subject: str) -> Result:
        """Result.body: {"review_action": "A1"|"A3"|"A4"|..., "auth_number", "valid_from", ...}."""
        bundle = fhir.build_claim_bundle(claim_identifier=claim_identifier, member_id=member_id,
                                         service_code=service_code, units=units, payer_identifier=payer_identifier)
        bundle["entry"][0]["resource"]["priority"] = {"coding": [{"code": "stat" if expedited else "normal"}]}
        return self.request("authorization-submit", "POST", f"/{payer_key}/Claim/$submit", body=bundle,
                            subject=subject, idempotency_key=claim_identifier, content_type=FHIR_JSON,
                            parse=_checked(fhir.parse_claim_response, _decision_makes_sense))

    def inquire_authorization(self, *, payer_key: str, payer_identifier: str, claim_identifier: str,
                              member_id: str, service_code: str, subject: str) -> Result:
        bundle = fhir.build_claim_bundle(claim_identifier=claim_identifier, member_id=member_id,
                                         service_code=service_code, payer_identifier=payer_identifier)
        bundle["entry"][0]["resource"]["use"] = "preauthorization"
        return self.request("authorization-inquire", "POST", f"/{payer_key}/Claim/$inquire", body=bundle,
                            subject=subject, content_type=FHIR_JSON,
                            parse=_checked(fhir.parse_claim_response, _decision_makes_sense))


KNOWN_ACTIONS = {"A1", "A2", "A3", "A4", "A6", "C", "CT", "NA"}


def _checked(parse, makes_sense):
    def run(raw):
        parsed = parse(raw)
        makes_sense(parsed)
        return parsed

    return run


def _eligibility_makes_sense(parsed: dict) -> None:
    if parsed["in_force"] is None and not parsed["member_unknown"]:
        raise fhir.FhirShapeError("the answer says neither in force, not in force, nor member unknown")


def _decision_makes_sense(parsed: dict) -> None:
    action = parsed.get("review_action")
    if parsed.get("outcome") == "error" and parsed.get("errors"):
        return  # a payer error answer (e.g. member unknown): the caller routes it to a person
    if action not in KNOWN_ACTIONS:
        raise fhir.FhirShapeError(f"unknown review action code {action!r}")
    if action in {"A1", "A2", "A6"} and not (parsed.get("auth_number") and parsed.get("valid_from")
                                             and parsed.get("valid_to")):
        raise fhir.FhirShapeError("an approval without its authorization number or validity dates")
