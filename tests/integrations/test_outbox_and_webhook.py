"""Outbox delivery to the ERP sandbox, and the payer's webhook reaching our endpoint over real HTTP."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from authorizations.models import Authorization
from authorizations.payer import authorization_submit
from authorizations.services import authorization_create, coverage_create
from healthops.audit import system_user
from healthops.models import CircuitBreaker, Delivery, IntegrationCall, Subscription
from healthops.outbox import deliver_pending, replay
from scheduling.services import appointment_book, appointment_transition

from .. import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(sandbox, fast_settings):
    fast_settings.ERP_URL = f"{sandbox.base_url}/erp"
    fast_settings.OUTBOX_MAX_ATTEMPTS = 3
    return sandbox


def book(north, hour):
    return appointment_book(patient=factories.patient(north), service_type=factories.service_type(), site=north,
                            start=datetime(2030, 1, 7, hour, tzinfo=UTC), resources=[factories.room(north).resource],
                            actor=system_user())


def later():
    return timezone.now() + timedelta(hours=2)


def test_appointment_events_reach_the_erp_once_in_order(erp, north):
    appointment = book(north, 15)
    appointment_transition(appointment=appointment, to_status="cancelled", reason="facility", actor=system_user())
    assert Delivery.objects.filter(status="pending").count() == 2  # written with the events
    assert deliver_pending(now=later())["delivered"] == 2
    assert deliver_pending(now=later())["delivered"] == 0  # nothing twice
    received = erp.get(f"/erp/events?subject=appointment/{appointment.pk}").json
    events = received["events"] if isinstance(received, dict) else received
    assert [e["type"] for e in events] == ["org.healthops.appointment.booked.v1", "org.healthops.appointment.cancelled.v1"]


def test_outage_keeps_events_queued_in_order_then_delivers_all(erp, north):
    erp.post("/_faults", {"endpoint": "erp.events", "outage_seconds": 60})
    appointment = book(north, 16)
    appointment_transition(appointment=appointment, to_status="checked-in", actor=system_user())
    counts = deliver_pending(now=later())
    assert counts["delivered"] == 0 and counts["retry"] == 1 and counts["waiting"] == 1
    assert Delivery.objects.filter(status="pending").count() == 2  # the second waits behind the first
    erp.delete("/_faults")
    CircuitBreaker.objects.all().delete()
    for _ in range(3):
        deliver_pending(now=timezone.now() + timedelta(hours=3))
    assert Delivery.objects.filter(status="delivered").count() == 2
    stats = erp.get("/_control/stats").json
    assert stats["erp_events"] == 2


def test_dead_letter_after_max_attempts_and_replay(erp, north, admin_user):
    erp.post("/_faults", {"endpoint": "erp.events", "error_rate": 1.0, "error_status": 500})
    Subscription.objects.update(url="")
    book(north, 17)
    for hours in (3, 6, 9, 12):
        CircuitBreaker.objects.all().delete()
        deliver_pending(now=timezone.now() + timedelta(hours=hours))
    delivery = Delivery.objects.get()
    assert delivery.status == "dead" and delivery.attempts == 3 and "HTTP 500" in delivery.last_error
    erp.delete("/_faults")
    CircuitBreaker.objects.all().delete()
    assert replay(deliveries=Delivery.objects.all(), actor=admin_user) == 1
    deliver_pending(now=later())
    assert Delivery.objects.get().status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_payer_pushes_a_pended_decision_to_our_webhook(live_server, sandbox, settings):
    settings.PAYER_URL = f"{sandbox.base_url}/payer"
    settings.INTEGRATIONS = {"TIMEOUT_SECONDS": 2, "MAX_ATTEMPTS": 2, "BACKOFF_BASE_SECONDS": 0,
                             "BACKOFF_MAX_SECONDS": 0, "FAILURE_THRESHOLD": 5, "OPEN_SECONDS": 60}
    sandbox.post("/_control/webhook",
                 {"url": f"{live_server.url}/integrations/payer/{settings.PAYER_WEBHOOK_TOKEN}/notifications"})
    north = factories.site()
    coverage = coverage_create(patient=factories.patient(north), payer=factories.payer(), member_id="TEST-PEND-7",
                               period_start=datetime(2026, 1, 1).date(), actor=system_user())
    auth = authorization_create(coverage=coverage, service_type=factories.service_type(), actor=system_user())
    assert authorization_submit(authorization=auth, actor=system_user()).authorization.status == "pended"
    sandbox.post("/_control/decide", {"claim_identifier": auth.claim_identifier})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Authorization.objects.get(pk=auth.pk).status == "pended":
        time.sleep(0.1)
    assert Authorization.objects.get(pk=auth.pk).status == "approved"
    assert IntegrationCall.objects.filter(operation="incoming-notification", outcome="ok").exists()


def test_webhook_refuses_wrong_token_and_garbage(client, settings):
    assert client.post("/integrations/payer/wrong/notifications", "{}", content_type="application/json").status_code == 404
    url = f"/integrations/payer/{settings.PAYER_WEBHOOK_TOKEN}/notifications"
    assert client.post(url, "not json", content_type="application/json").status_code == 400
    answer = client.post(url, json.dumps({"resourceType": "Bundle"}), content_type="application/json")
    assert answer.status_code == 422 and "error" in answer.json()
    assert IntegrationCall.objects.filter(outcome="malformed").count() == 2
