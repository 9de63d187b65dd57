"""The FHIR parsers and builders, against the official R4 and Da Vinci PAS examples (no server involved)."""

import copy

import pytest

from healthops.integrations import fhir
from healthops.integrations.fhir import FhirShapeError, parse_claim_response, parse_eligibility_response

from ..support import load

PAS = "fhir-davinci-pas-2.2.1"
R4 = "fhir-r4-core"


# -- official examples -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ClaimResponse-PractitionerRequestorResponseExample.json",
                                  "Bundle-ReferralAuthorizationResponseBundleExample.json",
                                  "Bundle-PASSubscriptionNotification.json"])
def test_official_approved_response_parses(shared_data, name):
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert parsed["outcome"] == "complete"
    assert parsed["review_action"] == "A1"
    assert parsed["auth_number"] == "AUTH0001"
    assert (parsed["valid_from"], parsed["valid_to"]) == ("2005-05-02", "2005-06-02")
    assert parsed["units"] == 1
    assert parsed["claim_identifier"] == "111099"
    assert parsed["denial_reason"] is None and parsed["errors"] == []


@pytest.mark.parametrize("name", ["ClaimResponse-PractitionerRequestorPendingResponseExample.json",
                                  "Bundle-ReferralPendingAuthorizationResponseBundleExample.json"])
def test_official_pended_response_parses(shared_data, name):
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert parsed["review_action"] == "A4"
    assert parsed["tracking_id"] == "PEND0001"
    assert parsed["auth_number"] is None and parsed["valid_from"] is None


@pytest.mark.parametrize("name", ["ClaimResponse-RejectionResponseExample.json",
                                  "Bundle-RejectionResponseBundleExample.json"])
def test_official_denied_response_parses(shared_data, name):
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert parsed["review_action"] == "A3"
    assert parsed["auth_number"] is None


@pytest.mark.parametrize("name", ["ClaimResponse-PASClaimInquiryResponseExample.json",
                                  "Bundle-PASClaimInquiryResponseBundleExample.json",
                                  "Parameters-PASClaimInquiryOperationResponseExample.json"])
def test_official_inquiry_response_parses(shared_data, name):
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert (parsed["review_action"], parsed["auth_number"]) == ("A1", "AUTH0001")


def test_official_additional_content_response_parses_every_adjudication(shared_data):
    name = "ClaimResponse-PractitionerRequestorAdditionalContentResponseExample.json"
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert [i["review_action"] for i in parsed["items"]] == ["A1", "A1"]  # item and addItem


@pytest.mark.parametrize("name", ["ClaimResponse-ErrorResponseExample.json", "Bundle-ErrorResponseBundleExample.json"])
def test_official_error_response_parses_as_errors(shared_data, name):
    parsed = parse_claim_response(load(shared_data / PAS / name))
    assert parsed["outcome"] == "error" and parsed["review_action"] is None
    assert [e["code"] for e in parsed["errors"]] == ["04", "T4"]
    assert parsed["member_unknown"] is False


@pytest.mark.parametrize("name", ["CoverageEligibilityResponse-E2500.json", "CoverageEligibilityResponse-E2501.json",
                                  "CoverageEligibilityResponse-E2502.json"])
def test_official_eligibility_in_force_parses(shared_data, name):
    parsed = parse_eligibility_response(load(shared_data / R4 / name))
    assert parsed == {"outcome": "complete", "disposition": "Policy is currently in-force.", "in_force": True,
                      "member_unknown": False, "errors": []}


def test_official_eligibility_error_parses(shared_data):
    parsed = parse_eligibility_response(load(shared_data / R4 / "CoverageEligibilityResponse-E2503.json"))
    assert parsed["outcome"] == "error" and parsed["in_force"] is None
    assert parsed["errors"][0]["code"] == "a001"
    assert parsed["member_unknown"] is False  # a001 is "Missing Identifier", not an unknown member


def test_our_builders_reuse_the_official_extension_urls(shared_data):
    official = load(shared_data / PAS / "ClaimResponse-PractitionerRequestorResponseExample.json")
    item = official["item"][0]
    review = item["adjudication"][0]["extension"][0]
    assert review["url"] == fhir.EXT_REVIEW_ACTION
    assert review["extension"][1]["url"] == fhir.EXT_REVIEW_ACTION_CODE
    assert review["extension"][1]["valueCodeableConcept"]["coding"][0]["system"] == fhir.X12_REVIEW_ACTION_SYSTEM
    assert {e["url"] for e in item["extension"]} >= {fhir.EXT_ITEM_PREAUTH_PERIOD, fhir.EXT_ITEM_AUTHORIZED_DETAIL,
                                                      fhir.EXT_ITEM_PREAUTH_ISSUE_DATE}
    pended = load(shared_data / PAS / "ClaimResponse-PractitionerRequestorPendingResponseExample.json")
    assert pended["item"][0]["extension"][0]["url"] == fhir.EXT_ADMIN_REFERENCE_NUMBER
    notification = load(shared_data / PAS / "Bundle-PASSubscriptionNotification.json")
    topic = notification["entry"][0]["resource"]["parameter"][1]["valueCanonical"]
    assert topic == fhir.PAS_SUBSCRIPTION_TOPIC


# -- our builders round-trip through the parsers ----------------------------------------------------------------

SUMMARY = fhir.claim_summary(fhir.submission_claim(fhir.build_claim_bundle(
    claim_identifier="AUTHREQ-1", member_id="MBR-1", service_code="mri-knee", units=3))[0])


def _decision(action, **extra):
    return {"review_action": action, "tracking_id": "TRK-1", "issued": "2030-01-02", "auth_number": None,
            "valid_from": None, "valid_to": None, "denial_reason": None, **extra}


def _build(decision):
    response = fhir.build_claim_response(summary=SUMMARY, decision=decision, response_id="TRK-1", payer="acme",
                                         created="2030-01-02T00:00:00+00:00")
    return fhir.build_response_bundle(response, bundle_id="b", timestamp="2030-01-02T00:00:00+00:00",
                                      full_url="http://x/ClaimResponse/TRK-1")


def test_built_approval_round_trips():
    bundle = _build(_decision("A1", auth_number="AUTH-9", valid_from="2030-01-02", valid_to="2030-04-02"))
    parsed = parse_claim_response(bundle)
    assert parsed["review_action"] == "A1" and parsed["auth_number"] == "AUTH-9"
    assert (parsed["valid_from"], parsed["valid_to"], parsed["units"]) == ("2030-01-02", "2030-04-02", 3)
    assert parsed["tracking_id"] == "TRK-1" and parsed["claim_identifier"] == "AUTHREQ-1"
    assert bundle["entry"][0]["resource"]["preAuthRef"] == "AUTH-9"


def test_built_denial_carries_its_reason():
    parsed = parse_claim_response(_build(_decision("A3", denial_reason={"code": "x", "display": "Not necessary"})))
    assert (parsed["review_action"], parsed["denial_reason"]) == ("A3", "Not necessary")


def test_built_eligibility_errors_mark_unknown_members():
    request = fhir.build_eligibility_request(member_id="NOPE-1")
    unknown = fhir.build_eligibility_response(request=request, response_id="r", payer="p", created="2030-01-01",
                                              in_force=None, error="member-not-found")
    assert parse_eligibility_response(unknown)["member_unknown"] is True
    missing = fhir.build_eligibility_response(request=request, response_id="r", payer="p", created="2030-01-01",
                                              in_force=None, error="missing-member-id")
    assert parse_eligibility_response(missing)["member_unknown"] is False


def test_member_id_readers_accept_the_documented_forms():
    assert fhir.insurance_member_id({"insurance": [{"coverage": {"identifier": {"value": "M1"}}}]}) == "M1"
    contained = {"contained": [{"resourceType": "Coverage", "id": "c", "identifier": [{"value": "M2"}]}],
                 "insurance": [{"coverage": {"reference": "#c"}}]}
    assert fhir.insurance_member_id(contained) == "M2"
    assert fhir.insurance_member_id(fhir.build_eligibility_request(member_id="M3")) == "M3"
    claim, bundle = fhir.submission_claim(fhir.build_claim_bundle(claim_identifier="c", member_id="M4",
                                                                  service_code="x"))
    assert fhir.insurance_member_id(claim, bundle) == "M4"
    assert fhir.insurance_member_id({"insurance": [{"coverage": {"reference": "Coverage/elsewhere"}}]}) is None


# -- malformed input raises FhirShapeError ----------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    None, [], "text", {"resourceType": "Patient"}, {"resourceType": "Bundle", "entry": []},
    {"resourceType": "ClaimResponse", "outcome": "complete", "item": []},
    {"resourceType": "ClaimResponse", "outcome": "maybe"},
    {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient", "diagnostics": "down"}]},
    {"unexpected": True, "items": "not-a-list", "resourceType": 42},
])
def test_claim_parser_rejects_wrong_shapes(bad):
    with pytest.raises(FhirShapeError):
        parse_claim_response(bad)


def test_claim_parser_rejects_unknown_review_action_codes():
    bundle = _build(_decision("A1", auth_number="AUTH-9", valid_from="2030-01-02", valid_to="2030-04-02"))
    broken = copy.deepcopy(bundle)
    review = broken["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]
    review["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = "ZZ"
    with pytest.raises(FhirShapeError, match="Unknown reviewActionCode"):
        parse_claim_response(broken)


@pytest.mark.parametrize("bad", [
    {"resourceType": "CoverageEligibilityRequest"}, {"resourceType": "CoverageEligibilityResponse"},
    {"resourceType": "CoverageEligibilityResponse", "outcome": "complete", "insurance": [{"inforce": "yes"}]},
    {"resourceType": "CoverageEligibilityResponse", "outcome": "complete", "insurance": {}},
])
def test_eligibility_parser_rejects_wrong_shapes(bad):
    with pytest.raises(FhirShapeError):
        parse_eligibility_response(bad)
