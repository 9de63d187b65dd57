"""Webhooks: registration, CloudEvents about the partner's own referrals only, HMAC signature, outbox retries."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from healthops.integrations.webhook import SIGNATURE_HEADER, verify
from healthops.models import Delivery, Subscription
from healthops.outbox import deliver_pending

from .conftest import create_patient, create_referral

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny partner endpoint: records what it receives; answers with the status it is told to."""

    def __init__(self):
        self.received, self.status = [], 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_partner_receives_signed_cloudevents_for_its_own_referrals_only(
        network, api_a, api_b, receiver, settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_BACKOFF_SECONDS = 0
    response = api_a.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["referral."]},
                          content_type="application/json")
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert [w["url"] for w in api_a.get("/api/v1/webhooks").json()] == [receiver.url]
    assert "secret" not in api_a.get("/api/v1/webhooks").json()[0]

    ref_a = create_referral(api_a, create_patient(api_a), django_capture_on_commit_callbacks)
    create_referral(api_b, create_patient(api_b, mrn="MRN-B", birth="1990-01-01"), django_capture_on_commit_callbacks)
    owed = Delivery.objects.filter(subscription__partner__identifier="PARTNER-A")
    assert owed.exists() and set(owed.values_list("subject", flat=True)) == {f"referral/{ref_a}"}

    deliver_pending()  # (the commit may already have kicked a delivery run: jobs run inline here)
    assert set(owed.values_list("status", flat=True)) == {"delivered"}
    assert receiver.received
    for headers, body in receiver.received:
        assert verify(secret, headers[SIGNATURE_HEADER.lower()], body)
        assert not verify("wrong-secret", headers[SIGNATURE_HEADER.lower()], body)
        event = json.loads(body)
        assert event["specversion"] == "1.0" and event["subject"] == f"referral/{ref_a}"
        assert event["type"].startswith("org.healthops.referral.")
        assert headers["content-type"] == "application/cloudevents+json"
    log = api_a.get("/api/v1/webhooks/deliveries").json()
    assert log["count"] == owed.count() and {d["status"] for d in log["results"]} == {"delivered"}
    assert api_b.get("/api/v1/webhooks/deliveries").json()["count"] == 0


def test_failed_delivery_is_retried_with_backoff_through_the_outbox(
        network, api_a, receiver, settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_BACKOFF_SECONDS = 0
    api_a.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["referral.received"]},
               content_type="application/json")
    receiver.status = 503
    create_referral(api_a, create_patient(api_a), django_capture_on_commit_callbacks)
    deliver_pending()
    delivery = Delivery.objects.get(subscription__partner__identifier="PARTNER-A")
    failed_attempts = delivery.attempts
    assert delivery.status == "pending" and failed_attempts >= 1 and "503" in delivery.last_error
    receiver.status = 200
    assert deliver_pending()["delivered"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == failed_attempts + 1
    assert len(receiver.received) == failed_attempts + 1
    assert len({body for _, body in receiver.received}) == 1  # the same CloudEvent each time


def test_webhook_management_needs_its_scope_and_validates(network, api_a, receiver):
    from .conftest import make_partner

    _, other = make_partner("NOHOOKS", scopes=["referrals:read"])
    assert other.post("/api/v1/webhooks", {"url": receiver.url}, content_type="application/json").status_code == 403
    bad = api_a.post("/api/v1/webhooks", {"url": "not a url"}, content_type="application/json")
    assert bad.status_code == 400 and "url" in bad.json()["fields"]
    created = api_a.post("/api/v1/webhooks", {"url": receiver.url}, content_type="application/json").json()
    assert api_a.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert not Subscription.objects.get(pk=created["id"]).active
