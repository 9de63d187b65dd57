"""Fault injection over real HTTP: outages, seeded error rates, malformed answers, latency and timeouts."""

import json
import random
import socket
import time
import urllib.error
import urllib.request

import pytest

from healthops.sandbox.server import start_sandbox

from .test_payer import eligibility, submit
from .test_systems import cloudevent


def test_outage_answers_503_for_that_endpoint_only(sandbox):
    added = sandbox.post("/_faults", {"endpoint": "payer.eligibility", "outage_seconds": 60})
    assert added.status == 201
    answer = eligibility(sandbox, "TEST-ACTIVE-1")
    assert answer.status == 503 and answer.json["resourceType"] == "OperationOutcome"
    assert answer.headers["x-sandbox-fault"] == "outage" and 0 < int(answer.headers["retry-after"]) <= 60
    assert submit(sandbox, "TEST-ACTIVE-1", "F-1").status == 200  # other endpoints work
    listed = sandbox.get("/_faults").json["faults"]
    assert listed[0]["endpoint"] == "payer.eligibility" and 0 < listed[0]["outage_remaining_seconds"] <= 60
    assert sandbox.get("/_control/stats").json["eligibility_requests"] == 0  # nothing reached the payer
    assert sandbox.delete("/_faults").json == {"faults": []}
    assert eligibility(sandbox, "TEST-ACTIVE-1").status == 200


def test_outage_ends_by_itself(sandbox):
    sandbox.post("/_faults", {"endpoint": "*", "outage_seconds": 0.2})
    assert sandbox.get("/messaging/messages").status == 503
    assert sandbox.get("/_control/stats").status == 200  # control endpoints are never faulted
    time.sleep(0.25)
    assert sandbox.get("/messaging/messages").status == 200


def test_seeded_error_rate_gives_a_deterministic_pattern(sandbox):
    sandbox.post("/_faults", {"endpoint": "erp.events", "error_rate": 0.3, "error_status": 502, "seed": 42})
    rng = random.Random(42)
    expected = [502 if rng.random() < 0.3 else 202 for _ in range(30)]
    got = [sandbox.post("/erp/events", cloudevent(event_id=f"e-{n}")).status for n in range(30)]
    assert got == expected
    assert 0 < got.count(502) < 30
    stored = sandbox.get("/erp/events").json["count"]
    assert stored == got.count(202)  # a failed request did nothing
    assert sandbox.get("/_control/stats").json["faults_injected"]["error"] == got.count(502)


def test_fault_on_payer_endpoints_is_an_operation_outcome(sandbox):
    sandbox.post("/_faults", {"endpoint": "payer.submit", "error_rate": 1.0, "error_status": 500})
    answer = submit(sandbox, "TEST-ACTIVE-1", "F-2")
    assert answer.status == 500 and answer.json["resourceType"] == "OperationOutcome"
    assert sandbox.get("/_control/stats").json["authorizations_created"] == 0


@pytest.mark.parametrize("kind", ["truncated", "wrong-shape"])
def test_malformed_answers_are_200_with_a_broken_body(sandbox, kind):
    sandbox.post("/_faults", {"endpoint": "payer.eligibility", "malformed_rate": 1.0, "malformed_kind": kind})
    answer = eligibility(sandbox, "TEST-ACTIVE-1")
    assert answer.status == 200 and answer.headers["x-sandbox-fault"] == f"malformed-{kind}"
    if kind == "truncated":
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.raw)
    else:
        assert "resourceType" not in answer.json or answer.json["resourceType"] != "CoverageEligibilityResponse"


def test_malformed_alternates_and_the_work_is_still_done(sandbox):
    sandbox.post("/_faults", {"endpoint": "payer.submit", "malformed_rate": 1.0})
    kinds = [submit(sandbox, "TEST-ACTIVE-1", f"F-M{n}").headers["x-sandbox-fault"] for n in range(3)]
    assert kinds == ["malformed-truncated", "malformed-wrong-shape", "malformed-truncated"]
    assert sandbox.get("/_control/stats").json["authorizations_created"] == 3


def test_latency_is_added(sandbox):
    started = time.monotonic()
    eligibility(sandbox, "TEST-ACTIVE-1")
    baseline = time.monotonic() - started
    sandbox.post("/_faults", {"endpoint": "payer.eligibility", "latency_ms": 150})
    started = time.monotonic()
    answer = eligibility(sandbox, "TEST-ACTIVE-1")
    assert answer.status == 200 and time.monotonic() - started >= 0.15 > baseline


def test_timeout_holds_the_answer_past_the_client_timeout_but_does_the_work(sandbox):
    sandbox.post("/_faults", {"endpoint": "payer.submit", "timeout_rate": 1.0, "timeout_seconds": 2})
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        submit(sandbox, "TEST-ACTIVE-1", "F-T", timeout=0.3)
    sandbox.delete("/_faults")
    retry = submit(sandbox, "TEST-ACTIVE-1", "F-T")  # the client's retry is answered from the first submission
    assert retry.status == 200
    stats = sandbox.get("/_control/stats").json
    assert stats["submissions"] == {"F-T": 2} and stats["authorizations_created"] == 1 and stats["duplicates"] == 1


@pytest.mark.parametrize("spec", [
    {"endpoint": "payer.nothing"}, {"error_rate": 1.5}, {"error_rate": 0.6, "malformed_rate": 0.6},
    {"error_status": 200}, {"latency_ms": -1}, {"seed": "x"}, {"surprise": 1}, ["not", "objects"],
])
def test_bad_fault_specs_are_rejected(sandbox, spec):
    answer = sandbox.post("/_faults", spec)
    assert answer.status == 400 and answer.json["error"]


def test_several_specs_can_be_posted_at_once(sandbox):
    added = sandbox.post("/_faults", [{"endpoint": "messaging", "latency_ms": 1}, {"endpoint": "erp.events"}])
    assert len(added.json["faults"]) == 2


def test_faults_from_the_environment_apply_at_start():
    server, base_url = start_sandbox(port=0, environ={"SANDBOX_FAULTS": json.dumps(
        {"endpoint": "workforce.roster", "error_rate": 1.0, "error_status": 504})})
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{base_url}/workforce/roster?from=2030-01-01&to=2030-01-02", timeout=5)
        assert caught.value.code == 504
    finally:
        server.shutdown()


def test_bad_faults_in_the_environment_fail_loudly():
    with pytest.raises(ValueError, match="SANDBOX_FAULTS"):
        start_sandbox(port=0, environ={"SANDBOX_FAULTS": "{not json"})
    with pytest.raises(ValueError, match="endpoint"):
        start_sandbox(port=0, environ={"SANDBOX_FAULTS": '[{"endpoint": "nope"}]'})
