"""The simulated payers over real HTTP: eligibility, PAS submit / inquire / later decisions, official examples."""

import time

import pytest

from healthops.integrations import fhir
from healthops.integrations.fhir import parse_claim_response, parse_eligibility_response

from ..support import load

PAS = "fhir-davinci-pas-2.2.1"
R4 = "fhir-r4-core"
FHIR_JSON = "application/fhir+json"


def eligibility(sandbox, member_id, payer="blueshield", **kwargs):
    request = {"resourceType": "CoverageEligibilityRequest",
               "insurance": [{"coverage": {"identifier": {"value": member_id}}}]}
    return sandbox.post(f"/payer/{payer}/CoverageEligibilityRequest", request, **kwargs)


def submit(sandbox, member_id, claim_id, payer="blueshield", units=1, **kwargs):
    bundle = fhir.build_claim_bundle(claim_identifier=claim_id, member_id=member_id, service_code="mri-knee",
                                     units=units)
    return sandbox.post(f"/payer/{payer}/Claim/$submit", bundle, **kwargs)


# -- eligibility ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("member_id", "in_force"), [
    ("TEST-ACTIVE-1", True), ("TEST-INACTIVE-7", False), ("TEST-PEND-2", True), ("TEST-DENY-3", True),
    ("MBR-000123", True),
])
def test_eligibility_for_test_and_demo_members(sandbox, member_id, in_force):
    for payer in ("blueshield", "medicare"):
        answer = eligibility(sandbox, member_id, payer=payer)
        assert answer.status == 200 and answer.content_type.startswith(FHIR_JSON)
        assert answer.json["resourceType"] == "CoverageEligibilityResponse"
        assert answer.json["outcome"] == "complete"
        assert answer.json["insurance"][0]["inforce"] is in_force
        assert parse_eligibility_response(answer.json)["in_force"] is in_force


def test_unknown_member_gets_an_error_in_the_official_shape(sandbox, shared_data):
    answer = eligibility(sandbox, "SOMEONE-ELSE")
    official = load(shared_data / R4 / "CoverageEligibilityResponse-E2503.json")
    assert answer.status == 200 and answer.json["outcome"] == official["outcome"] == "error"
    assert set(official["error"][0]) == set(answer.json["error"][0]) == {"code"}
    assert answer.json["error"][0]["code"]["text"] == "member not found"
    parsed = parse_eligibility_response(answer.json)
    assert parsed["member_unknown"] is True and parsed["in_force"] is None


def test_our_in_force_answer_has_the_official_structure(sandbox, shared_data):
    official = load(shared_data / R4 / "CoverageEligibilityResponse-E2500.json")
    ours = eligibility(sandbox, "TEST-ACTIVE-1").json
    required = {"resourceType", "status", "purpose", "patient", "created", "request", "outcome", "insurer", "insurance"}
    assert required <= set(official) and required <= set(ours)
    assert set(ours["insurance"][0]) == set(official["insurance"][0]) == {"coverage", "inforce"}


def test_contained_coverage_and_fhir_content_type_are_accepted(sandbox):
    request = fhir.build_eligibility_request(member_id="TEST-INACTIVE-1", patient_reference="Patient/9")
    answer = sandbox.post("/payer/acme/CoverageEligibilityRequest", request, content_type=FHIR_JSON)
    assert answer.status == 200 and answer.json["insurance"][0]["inforce"] is False
    assert answer.json["patient"] == {"reference": "Patient/9"}


def test_loaded_members_override_the_demo_default(sandbox):
    members = [{"payer": "blueshield", "member_id": "MBR-LAPSED", "in_force": False},
               {"payer": "*", "member_id": "PLAN-42", "in_force": True, "review_action": "A4"}]
    assert sandbox.post("/_control/members", members).json == {"loaded": 2, "members": 2}
    assert eligibility(sandbox, "MBR-LAPSED").json["insurance"][0]["inforce"] is False
    assert eligibility(sandbox, "MBR-LAPSED", payer="summit").json["insurance"][0]["inforce"] is True
    assert eligibility(sandbox, "PLAN-42", payer="summit").json["insurance"][0]["inforce"] is True
    assert parse_claim_response(submit(sandbox, "PLAN-42", "c-42").json)["review_action"] == "A4"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b'{"resourceType": "Patient"}', "application/json", 400),
    (b'{"resourceType": "CoverageEligibilityRequest"}', "text/plain", 415),
    (b"", "application/json", 400),
])
def test_bad_eligibility_requests_get_an_operation_outcome(sandbox, body, content_type, status):
    answer = sandbox.post("/payer/acme/CoverageEligibilityRequest", raw=body, content_type=content_type)
    assert answer.status == status
    assert answer.json["resourceType"] == "OperationOutcome"
    assert answer.json["issue"][0]["diagnostics"]


@pytest.mark.parametrize("name", ["CoverageEligibilityRequest-52345.json", "CoverageEligibilityRequest-52346.json"])
def test_official_eligibility_requests_get_a_valid_answer(sandbox, shared_data, name):
    answer = sandbox.post("/payer/acme/CoverageEligibilityRequest", load(shared_data / R4 / name),
                          content_type=FHIR_JSON)
    assert answer.status == 200
    parsed = parse_eligibility_response(answer.json)
    # They point at "Coverage/9876B1" by bare reference, so no member id can be read: a001 Missing Identifier.
    assert parsed["outcome"] == "error" and parsed["errors"][0]["code"] == "a001"
    assert answer.json["request"]["identifier"]["value"] == name.split("-")[1].removesuffix(".json")


# -- prior authorization ----------------------------------------------------------------------------------------

def test_active_member_is_approved_at_once(sandbox):
    answer = submit(sandbox, "TEST-ACTIVE-1", "AR-1", units=4)
    assert answer.status == 200 and answer.content_type.startswith(FHIR_JSON)
    parsed = parse_claim_response(answer.json)
    assert parsed["review_action"] == "A1" and parsed["auth_number"].startswith("AUTH-")
    assert parsed["valid_from"] < parsed["valid_to"] and parsed["units"] == 4
    assert parsed["tracking_id"].startswith("TRK-") and parsed["claim_identifier"] == "AR-1"


def test_deny_and_inactive_members_are_denied_with_a_reason(sandbox):
    denied = parse_claim_response(submit(sandbox, "TEST-DENY-1", "AR-2").json)
    assert denied["review_action"] == "A3" and "medically necessary" in denied["denial_reason"]
    inactive = parse_claim_response(submit(sandbox, "TEST-INACTIVE-1", "AR-3").json)
    assert inactive["review_action"] == "A3" and inactive["denial_reason"] == "Coverage not in force"


def test_unknown_member_gets_an_error_claim_response(sandbox):
    parsed = parse_claim_response(submit(sandbox, "NOBODY-1", "AR-4").json)
    assert parsed["outcome"] == "error" and parsed["member_unknown"] is True


def test_pended_request_is_decided_on_demand_and_found_by_inquiry(sandbox):
    pended = parse_claim_response(submit(sandbox, "TEST-PEND-1", "AR-5").json)
    assert pended["review_action"] == "A4" and pended["auth_number"] is None
    by_tracking = sandbox.post("/payer/blueshield/Claim/$inquire", {"tracking_id": pended["tracking_id"]})
    assert parse_claim_response(by_tracking.json)["review_action"] == "A4"

    decided = sandbox.post("/_control/decide", {"tracking_id": pended["tracking_id"]})
    assert decided.json == {"decided": [pended["tracking_id"]]}
    inquiry = fhir.build_claim_bundle(claim_identifier="AR-5", member_id="TEST-PEND-1", service_code="mri-knee")
    answer = sandbox.post("/payer/blueshield/Claim/$inquire", inquiry)
    approved = parse_claim_response(answer.json)
    assert approved["review_action"] == "A1" and approved["tracking_id"] == pended["tracking_id"]
    by_auth = sandbox.post("/payer/blueshield/Claim/$inquire", {"preAuthRef": approved["auth_number"]})
    assert parse_claim_response(by_auth.json)["auth_number"] == approved["auth_number"]
    claim_response = sandbox.get(f"/payer/blueshield/ClaimResponse/{pended['tracking_id']}")
    assert parse_claim_response(claim_response.json)["review_action"] == "A1"
    # Another payer does not know this request.
    assert sandbox.post("/payer/summit/Claim/$inquire", {"identifier": "AR-5"}).status == 404


def test_pended_request_is_approved_after_the_configured_delay(sandbox):
    sandbox.post("/_control/config", {"decide_after_seconds": 0.1})
    tracking_id = parse_claim_response(submit(sandbox, "TEST-PEND-9", "AR-6").json)["tracking_id"]
    for _ in range(100):
        answer = parse_claim_response(sandbox.post("/payer/blueshield/Claim/$inquire", {"identifier": "AR-6"}).json)
        if answer["review_action"] == "A1":
            break
        time.sleep(0.02)
    assert answer["review_action"] == "A1" and answer["tracking_id"] == tracking_id
    assert sandbox.get("/_control/stats").json["decisions_later"] == 1


def test_decide_can_deny_and_unknown_names_are_404(sandbox):
    submit(sandbox, "TEST-PEND-1", "AR-7")
    assert sandbox.post("/_control/decide", {"claim_identifier": "AR-7", "review_action": "A3"}).status == 200
    parsed = parse_claim_response(sandbox.post("/payer/blueshield/Claim/$inquire", {"identifier": "AR-7"}).json)
    assert parsed["review_action"] == "A3"
    assert sandbox.post("/_control/decide", {"tracking_id": "TRK-999999"}).status == 404


def test_our_claim_responses_have_the_official_structure(sandbox, shared_data):
    cases = {"TEST-ACTIVE-1": "ClaimResponse-PractitionerRequestorResponseExample.json",
             "TEST-PEND-1": "ClaimResponse-PractitionerRequestorPendingResponseExample.json",
             "TEST-DENY-1": "ClaimResponse-RejectionResponseExample.json"}
    official_bundle = load(shared_data / PAS / "Bundle-ReferralAuthorizationResponseBundleExample.json")
    for n, (member_id, example) in enumerate(cases.items()):
        bundle = submit(sandbox, member_id, f"AR-S{n}").json
        assert bundle["resourceType"] == official_bundle["resourceType"] == "Bundle"
        assert bundle["type"] == official_bundle["type"] == "collection"
        assert bundle["meta"]["profile"] == official_bundle["meta"]["profile"]
        ours, official = bundle["entry"][0]["resource"], load(shared_data / PAS / example)
        assert ours["resourceType"] == official["resourceType"] == "ClaimResponse"
        assert ours["meta"]["profile"] == official["meta"]["profile"]
        assert (ours["use"], ours["outcome"], ours["status"]) == (official["use"], official["outcome"], official["status"])
        our_adj, official_adj = ours["item"][0]["adjudication"][0], official["item"][0]["adjudication"][0]
        assert our_adj["category"] == official_adj["category"]
        assert our_adj["extension"][0]["url"] == official_adj["extension"][0]["url"] == fhir.EXT_REVIEW_ACTION
        official_urls = {e["url"] for e in official_adj["extension"][0]["extension"]}
        our_urls = {e["url"] for e in our_adj["extension"][0]["extension"]}
        assert official_urls <= our_urls
        official_item_urls = {e["url"] for e in official["item"][0].get("extension", [])
                              if e["url"] != fhir.EXT_ITEM_REQUESTED_SERVICE_DATE
                              and e["url"] != fhir.PAS_SD + "extension-itemAuthorizedProvider"}
        assert official_item_urls <= {e["url"] for e in ours["item"][0]["extension"]}


# -- the official PAS request examples --------------------------------------------------------------------------

OFFICIAL_REQUESTS = ["Bundle-ReferralAuthorizationBundleExample.json", "Bundle-MedicalServicesAuthorizationBundleExample.json",
                     "Bundle-HomecareAuthorizationBundleExample.json", "Bundle-HomecareAuthorizationUpdateBundleExample.json",
                     "Bundle-SurgicalRequestBundleExample.json"]


@pytest.mark.parametrize("name", OFFICIAL_REQUESTS)
def test_official_request_bundles_are_approved_for_a_loaded_member(sandbox, shared_data, name):
    # The examples' Coverage entry names subscriberId 1122334455; make it a member of every payer.
    sandbox.post("/_control/members", [{"payer": "*", "member_id": "1122334455", "in_force": True}])
    bundle = load(shared_data / PAS / name)
    answer = sandbox.post("/payer/acme/Claim/$submit", bundle, content_type=FHIR_JSON)
    assert answer.status == 200
    parsed = parse_claim_response(answer.json)
    assert parsed["review_action"] == "A1" and parsed["auth_number"]
    claim = bundle["entry"][0]["resource"]
    assert len(parsed["items"]) == len(claim["item"])
    assert parsed["claim_identifier"] == claim["identifier"][0]["value"]
    assert answer.json["identifier"] == bundle["identifier"]  # the response echoes the request Bundle's identifier


@pytest.mark.parametrize("name", OFFICIAL_REQUESTS)
def test_official_request_bundles_for_an_unknown_member_get_an_error(sandbox, shared_data, name):
    answer = sandbox.post("/payer/acme/Claim/$submit", load(shared_data / PAS / name), content_type=FHIR_JSON)
    parsed = parse_claim_response(answer.json)
    assert answer.status == 200 and parsed["outcome"] == "error" and parsed["member_unknown"] is True


@pytest.mark.parametrize("name", ["Claim-ReferralAuthorizationExample.json", "Claim-MedicalServicesAuthorizationExample.json",
                                  "Claim-HomecareAuthorizationExample.json", "Claim-SurgicalAuthorizationRequestExample.json",
                                  "Claim-HomecareAuthorizationUpdateExample.json"])
def test_official_bare_claims_get_a_valid_answer(sandbox, shared_data, name):
    answer = sandbox.post("/payer/acme/Claim/$submit", load(shared_data / PAS / name), content_type=FHIR_JSON)
    assert answer.status == 200
    parsed = parse_claim_response(answer.json)
    # A bare Claim cannot resolve "Coverage/InsuranceExample": X12 72, missing member id.
    assert parsed["outcome"] == "error" and parsed["errors"][0]["code"] == "72"


def test_official_inquiry_finds_the_official_submission(sandbox, shared_data):
    sandbox.post("/_control/members", [{"payer": "*", "member_id": "1122334455", "in_force": True}])
    submitted = sandbox.post("/payer/acme/Claim/$submit",
                             load(shared_data / PAS / "Bundle-ReferralAuthorizationBundleExample.json"))
    inquiry = sandbox.post("/payer/acme/Claim/$inquire", load(shared_data / PAS / "Bundle-PASClaimInquiryBundleExample.json"))
    assert inquiry.status == 200
    assert inquiry.json["meta"]["profile"] == [fhir.PROFILE_INQUIRY_RESPONSE_BUNDLE]
    assert parse_claim_response(inquiry.json)["auth_number"] == parse_claim_response(submitted.json)["auth_number"]


def test_bad_submissions_get_an_operation_outcome(sandbox):
    assert sandbox.post("/payer/acme/Claim/$submit", {"resourceType": "Patient"}).json["resourceType"] == "OperationOutcome"
    no_id = {"resourceType": "Claim", "insurance": [{"coverage": {"identifier": {"value": "TEST-ACTIVE-1"}}}]}
    answer = sandbox.post("/payer/acme/Claim/$submit", no_id)
    assert answer.status == 400 and "Claim.identifier" in answer.json["issue"][0]["diagnostics"]
    with_key = sandbox.post("/payer/acme/Claim/$submit", no_id, headers={"Idempotency-Key": "k-1"})
    assert parse_claim_response(with_key.json)["review_action"] == "A1"
    assert sandbox.post("/payer/acme/Claim/$inquire", {"identifier": "nothing"}).status == 404
    assert sandbox.get("/payer/acme/Claim/$submit").status == 405
    assert sandbox.get("/payer/acme/Nothing").json["resourceType"] == "OperationOutcome"


WEIRD = [None, 5, "x", [], {}, [5], [{}], {"value": 1}, True]


def test_odd_but_json_payer_input_never_gets_a_500(sandbox):
    """Whatever a partner sends, the answer is a FHIR answer or a 4xx OperationOutcome, never a sandbox crash."""
    statuses = set()
    for field in ("insurance", "patient", "purpose", "contained", "identifier"):
        for value in WEIRD:
            body = {"resourceType": "CoverageEligibilityRequest",
                    "insurance": [{"coverage": {"identifier": {"value": "TEST-ACTIVE-1"}}}], field: value}
            statuses.add(sandbox.post("/payer/x/CoverageEligibilityRequest", body).status)
    for field in ("item", "identifier", "insurance", "patient", "type", "provider", "contained"):
        for n, value in enumerate(WEIRD):
            body = {"resourceType": "Claim", "identifier": [{"value": f"odd-{field}-{n}"}], "item": [{"sequence": 1}],
                    "insurance": [{"coverage": {"identifier": {"value": "TEST-ACTIVE-1"}}}], field: value}
            statuses.add(sandbox.post("/payer/x/Claim/$submit", body).status)
            statuses.add(sandbox.post("/payer/x/Claim/$inquire", body).status)
    for value in WEIRD:
        for path in ("/payer/x/Claim/$submit", "/payer/x/Claim/$inquire", "/payer/x/CoverageEligibilityRequest",
                     "/erp/events", "/messaging/messages", "/_control/members", "/_control/roster", "/_control/decide",
                     "/_control/webhook", "/_control/config", "/_faults"):
            statuses.add(sandbox.post(path, value).status)
        statuses.add(sandbox.post("/payer/x/Claim/$submit", {"resourceType": "Bundle", "entry": value}).status)
    assert statuses and max(statuses) < 500, statuses
