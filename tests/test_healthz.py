"""GET /healthz: public, JSON, database + worker + integrations."""

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_worker_and_integrations(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["status"] == "ok"
    assert body["worker"]["status"] == "not-seen"  # no worker ran in this test database
    assert body["status"] == "degraded"
    assert set(body["integrations"]) == {"payer", "erp", "workforce", "messaging", "outbox"}
    assert body["integrations"]["payer"]["circuit"] == "closed"


def test_healthz_is_ok_with_a_recent_worker_heartbeat(client):
    from django_q.models import Success

    from healthops.tasks import heartbeat

    now = timezone.now()
    Success.objects.create(id="a" * 32, name="hb", func="healthops.tasks.heartbeat", started=now - timedelta(seconds=30),
                           stopped=now - timedelta(seconds=29), success=True, result=heartbeat())
    body = client.get("/healthz").json()
    assert body["worker"]["status"] == "ok" and body["status"] == "ok"


def test_heartbeat_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="healthops.tasks.heartbeat", schedule_type=Schedule.MINUTES).exists()


def test_open_circuit_shows_a_banner_on_every_page(client, coordinator):
    from healthops.models import CircuitBreaker

    client.force_login(coordinator)
    assert b"outage-banner" not in client.get("/referrals/").content
    CircuitBreaker.objects.create(system="payer", state="open")
    page = client.get("/referrals/").content.decode()
    assert "Payer connections unavailable" in page and "retried by themselves" in page
    assert client.get("/healthz").json()["status"] == "degraded"
