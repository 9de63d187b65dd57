"""Idempotency counting for prior-authorization submissions, and the webhook push of later decisions."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from healthops.integrations import fhir
from healthops.integrations.fhir import parse_claim_response

from ..support import load
from .test_payer import submit


def test_same_idempotency_key_replays_the_first_answer(sandbox):
    first = submit(sandbox, "TEST-ACTIVE-1", "I-1", headers={"Idempotency-Key": "key-1"})
    again = submit(sandbox, "TEST-ACTIVE-1", "I-1b", headers={"Idempotency-Key": "key-1"})
    assert again.json == first.json
    other = submit(sandbox, "TEST-ACTIVE-1", "I-1", headers={"Idempotency-Key": "key-2"})
    assert parse_claim_response(other.json)["auth_number"] != parse_claim_response(first.json)["auth_number"]
    stats = sandbox.get("/_control/stats").json
    assert stats["submissions"] == {"key-1": 2, "key-2": 1}
    assert (stats["authorizations_created"], stats["duplicates"]) == (2, 1)


def test_same_claim_identifier_without_a_key_replays_the_first_answer(sandbox):
    first = submit(sandbox, "TEST-ACTIVE-1", "I-2")
    again = submit(sandbox, "TEST-ACTIVE-1", "I-2")
    assert parse_claim_response(again.json)["tracking_id"] == parse_claim_response(first.json)["tracking_id"]
    assert submit(sandbox, "TEST-ACTIVE-1", "I-2", payer="summit").json != first.json  # another payer, another request
    stats = sandbox.get("/_control/stats").json
    assert stats["submissions"] == {"I-2": 3} and stats["authorizations_created"] == 2 and stats["duplicates"] == 1
    assert len(sandbox.get("/_control/submissions").json["submissions"]) == 2


def test_concurrent_retries_create_one_submission(sandbox):
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: submit(sandbox, "TEST-ACTIVE-1", "I-3", headers={"Idempotency-Key": "race"}),
                                range(16)))
    assert len({parse_claim_response(a.json)["auth_number"] for a in answers}) == 1
    stats = sandbox.get("/_control/stats").json
    assert stats["submissions"] == {"race": 16} and stats["authorizations_created"] == 1 and stats["duplicates"] == 15


def test_eligibility_requests_are_counted(sandbox):
    from .test_payer import eligibility

    for _ in range(3):
        eligibility(sandbox, "TEST-ACTIVE-1")
    assert sandbox.get("/_control/stats").json["eligibility_requests"] == 3


def test_reset_clears_everything(sandbox):
    submit(sandbox, "TEST-ACTIVE-1", "I-4")
    sandbox.post("/_faults", {"endpoint": "messaging", "latency_ms": 1})
    sandbox.post("/_control/members", [{"payer": "*", "member_id": "X", "in_force": True}])
    sandbox.post("/_control/reset")
    stats = sandbox.get("/_control/stats").json
    assert stats["submissions"] == {} and stats["authorizations_created"] == 0
    assert sandbox.get("/_faults").json == {"faults": []}
    assert parse_claim_response(submit(sandbox, "X", "I-5").json)["member_unknown"] is True


# -- webhook ----------------------------------------------------------------------------------------------------

class Receiver:
    """A tiny webhook receiver on loopback that fails the first ``fail_first`` deliveries with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first = fail_first
        self.calls = 0
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.received.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()
                receiver.event.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/payer"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(fail_first=0):
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_pended_decision_is_pushed_as_a_subscription_notification(sandbox, receiver, shared_data):
    hook = receiver()
    assert sandbox.post("/_control/webhook", {"url": hook.url}).json["url"] == hook.url
    pended = parse_claim_response(submit(sandbox, "TEST-PEND-1", "W-1").json)
    sandbox.post("/_control/decide", {})
    assert hook.event.wait(5)
    notification = hook.received[0]
    official = load(shared_data / "fhir-davinci-pas-2.2.1" / "Bundle-PASSubscriptionNotification.json")
    assert (notification["resourceType"], notification["type"]) == (official["resourceType"], official["type"])
    assert [e["resource"]["resourceType"] for e in notification["entry"]] == ["Parameters", "Bundle"]
    ours = {p["name"] for p in notification["entry"][0]["resource"]["parameter"]}
    assert ours == {p["name"] for p in official["entry"][0]["resource"]["parameter"]}
    parsed = parse_claim_response(notification)
    assert parsed["review_action"] == "A1" and parsed["tracking_id"] == pended["tracking_id"]
    assert hook.headers[0]["Content-Type"] == "application/fhir+json"
    assert hook.headers[0]["Idempotency-Key"].startswith(pended["tracking_id"])
    # The receiver has answered; the sandbox records the attempt right after reading that answer.
    assert wait_for(lambda: sandbox.get("/_control/webhook/deliveries").json["deliveries"])
    deliveries = sandbox.get("/_control/webhook/deliveries").json["deliveries"]
    assert [(d["attempt"], d["status"], d["delivered"]) for d in deliveries] == [(1, 204, True)]


def test_push_is_retried_with_backoff_until_the_webhook_answers(sandbox, receiver):
    hook = receiver(fail_first=2)
    sandbox.post("/_control/webhook", {"url": hook.url, "attempts": 4, "backoff_seconds": 0.05})
    sandbox.post("/_control/config", {"decide_after_seconds": 0})
    submit(sandbox, "TEST-PEND-2", "W-2")  # decided by the ticker, no /decide call
    assert hook.event.wait(5)
    assert wait_for(lambda: len(sandbox.get("/_control/webhook/deliveries").json["deliveries"]) == 3)
    deliveries = sandbox.get("/_control/webhook/deliveries").json["deliveries"]
    assert [(d["attempt"], d["status"], d["delivered"]) for d in deliveries] == [(1, 503, False), (2, 503, False),
                                                                                (3, 204, True)]
    assert len(hook.received) == 1
    webhook = sandbox.get("/_control/stats").json["webhook"]
    assert (webhook["attempts"], webhook["delivered"], webhook["failed_attempts"]) == (3, 1, 2)


def test_push_gives_up_after_the_configured_attempts(sandbox, receiver):
    hook = receiver(fail_first=99)
    sandbox.post("/_control/webhook", {"url": hook.url, "attempts": 2, "backoff_seconds": 0.01})
    submit(sandbox, "TEST-PEND-3", "W-3")
    sandbox.post("/_control/decide", {"claim_identifier": "W-3"})
    assert wait_for(lambda: len(sandbox.get("/_control/webhook/deliveries").json["deliveries"]) == 2)
    time.sleep(0.1)
    deliveries = sandbox.get("/_control/webhook/deliveries").json["deliveries"]
    assert [d["delivered"] for d in deliveries] == [False, False] and hook.received == []


def test_unreachable_webhook_is_recorded(sandbox):
    sandbox.post("/_control/webhook", {"url": "http://127.0.0.1:9/nothing", "attempts": 1})
    submit(sandbox, "TEST-PEND-4", "W-4")
    sandbox.post("/_control/decide", {})
    assert wait_for(lambda: sandbox.get("/_control/webhook/deliveries").json["deliveries"])
    delivery = sandbox.get("/_control/webhook/deliveries").json["deliveries"][0]
    assert delivery["status"] is None and delivery["error"] and delivery["delivered"] is False


def test_webhook_url_must_be_http(sandbox):
    assert sandbox.post("/_control/webhook", {"url": "ftp://x"}).status == 400
    assert sandbox.post("/_control/webhook", {"url": None}).json["url"] is None


def test_official_notification_parses_like_ours():
    bundle = fhir.build_subscription_notification(
        response_bundle={"resourceType": "Bundle", "type": "collection", "entry": []}, bundle_url="u",
        event_number=1, timestamp="2030-01-01T00:00:00Z", subscription="Subscription/s", status_url="s")
    with pytest.raises(fhir.FhirShapeError):
        parse_claim_response(bundle)  # a notification without a ClaimResponse is not silently accepted
