"""Tokens, scopes, partner isolation, the rate limit and the token command."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from healthops.audit import system_user
from healthops.models import Organization
from partners.models import PartnerClient, hash_token
from partners.services import partner_client_revoke

from .conftest import Api, create_patient, create_referral, make_partner

pytestmark = pytest.mark.django_db


def test_missing_or_unknown_token_is_401_with_operation_outcome(network):
    for api in (Api(None), Api("hop_not-a-real-token")):
        response = api.get("/fhir/r4/ServiceRequest")
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert Api(None).get("/api/v1/referrals").status_code == 401
    assert Api(None).get("/api/v1/sites").status_code == 401


def test_revoked_and_expired_tokens_are_401(partner_a):
    client, api = partner_a
    assert api.get("/api/v1/sites").status_code == 200
    partner_client_revoke(client=client, actor=system_user())
    assert api.get("/api/v1/sites").status_code == 401
    other, api2 = make_partner("PARTNER-X")
    PartnerClient.objects.filter(pk=other.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api2.get("/api/v1/sites").status_code == 401


def test_token_is_stored_hashed(partner_a):
    client, api = partner_a
    assert client.token_hash == hash_token(api.token) and api.token not in client.token_hash


def test_missing_scope_is_403(network, django_capture_on_commit_callbacks):
    _, reader = make_partner("READER", scopes=["referrals:read"])
    response = reader.post("/fhir/r4/Patient", {"resourceType": "Patient"})
    assert response.status_code == 403
    assert "referrals:write" in response.json()["issue"][0]["diagnostics"]
    assert reader.get("/fhir/r4/Slot", {"service-type": "derm"}).status_code == 403
    assert reader.get("/api/v1/webhooks").status_code == 403
    assert reader.get("/fhir/r4/ServiceRequest").status_code == 200


def test_partners_see_only_their_own_referrals_appointments_and_tasks(network, api_a, api_b,
                                                                      django_capture_on_commit_callbacks):
    pa = create_patient(api_a, mrn="MRN-A")
    ref_a = create_referral(api_a, pa, django_capture_on_commit_callbacks)
    pb = create_patient(api_b, mrn="MRN-B", birth="1990-01-01")
    ref_b = create_referral(api_b, pb, django_capture_on_commit_callbacks)

    ids = [e["resource"]["id"] for e in api_a.get("/fhir/r4/ServiceRequest").json()["entry"]]
    assert ids == [str(ref_a)]
    assert api_a.get(f"/fhir/r4/ServiceRequest/{ref_b}").status_code == 404
    assert api_b.get(f"/fhir/r4/ServiceRequest/{ref_a}").status_code == 404
    assert [r["id"] for r in api_b.get("/api/v1/referrals").json()["results"]] == [ref_b]
    assert api_a.get(f"/api/v1/referrals/{ref_b}").status_code == 404
    tasks_b = api_b.get("/fhir/r4/Task", {"focus": f"ServiceRequest/{ref_a}"}).json()
    assert tasks_b["total"] == 0
    assert api_a.get("/fhir/r4/Task", {"focus": f"ServiceRequest/{ref_a}"}).json()["total"] >= 1
    assert all(t["referral"] == ref_b for t in api_b.get("/api/v1/tasks").json()["results"])
    # B cannot name A's patient in its own referral, nor book A's referral.
    response = api_b.post("/fhir/r4/ServiceRequest", {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "subject": {"reference": f"Patient/{pa}"}, "code": {"coding": [{"code": "derm"}]}})
    assert response.status_code == 422
    slot = api_a.get("/fhir/r4/Slot", {"service-type": "derm"}).json()["entry"][0]["resource"]["id"]
    response = api_b.post("/fhir/r4/Appointment", {
        "resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot}"}],
        "basedOn": [{"reference": f"ServiceRequest/{ref_a}"}],
        "participant": [{"actor": {"reference": f"Patient/{pa}"}, "status": "accepted"}]})
    assert response.status_code == 422
    assert api_b.get("/fhir/r4/Appointment").json()["total"] == 0


def test_session_user_uses_api_v1_with_their_permissions(network, coordinator, outsider,
                                                         django_capture_on_commit_callbacks, api_a):
    pa = create_patient(api_a)
    ref = create_referral(api_a, pa, django_capture_on_commit_callbacks)
    web = Api(None)
    web.client.force_login(coordinator)
    assert [r["id"] for r in web.get("/api/v1/referrals").json()["results"]] == [ref]
    away = Api(None)
    away.client.force_login(outsider)
    assert away.get("/api/v1/referrals").json()["results"] == []
    assert web.get("/fhir/r4/ServiceRequest").status_code == 401  # FHIR is for partner tokens


def test_rate_limit_answers_429_with_retry_after(partner_a):
    client, api = partner_a
    PartnerClient.objects.filter(pk=client.pk).update(burst=3, rate_per_minute=1)
    statuses = [api.get("/api/v1/sites").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/fhir/r4/ServiceRequest")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["issue"][0]["code"] == "throttled"


def test_rate_limit_refills_with_time_up_to_the_burst(partner_a):
    import time_machine

    from partners.throttling import take_token

    client, _ = partner_a
    client.rate_per_minute, client.burst = 60, 2  # one request a second, two at once
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert [take_token(client) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0, abs=0.01)]
        clock.shift(timedelta(seconds=1))
        assert take_token(client) == 0.0
        assert take_token(client) > 0
        clock.shift(timedelta(minutes=10))  # a quiet spell refills the burst, not more
        assert [take_token(client) == 0.0 for _ in range(3)] == [True, True, False]
    client.rate_per_minute = 0
    assert take_token(client) == 3600.0


def test_create_partner_token_command(capsys, db):
    call_command("create_partner_token", "NEW-PARTNER", "--scopes", "referrals:read", "slots:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    org = Organization.objects.get(identifier="NEW-PARTNER")
    assert org.kind == "partner"
    client = PartnerClient.objects.get(token_hash=hash_token(token))
    assert client.scopes == ["referrals:read", "slots:read"] and client.organization == org
    assert Api(token).get("/api/v1/sites").status_code == 200
    call_command("create_partner_token", "NEW-PARTNER", "--rate-per-minute", "1200", "--burst", "100")
    assert PartnerClient.objects.filter(organization=org).count() == 2
    busy = PartnerClient.objects.filter(organization=org).latest("pk")
    assert (busy.rate_per_minute, busy.burst) == (1200, 100)
    with pytest.raises(CommandError, match="at least 1"):
        call_command("create_partner_token", "NEW-PARTNER", "--burst", "0")
    assert PartnerClient.objects.filter(organization=org).count() == 2


def test_admin_creates_a_client_and_shows_the_token_once(admin_user):
    from django.contrib.messages import get_messages
    from django.test import Client

    org = Organization.objects.create(name="Partner Z", kind="partner", identifier="PARTNER-Z")
    web = Client()
    web.force_login(admin_user)
    response = web.post("/admin/partners/partnerclient/add/", {
        "organization": org.pk, "name": "Z main", "scopes": '["referrals:read"]', "expires_at_0": "",
        "expires_at_1": "", "rate_per_minute": 600, "burst": 60})
    assert response.status_code == 302, response.content[:2000]
    token = [str(m) for m in get_messages(response.wsgi_request)][0].rsplit(" ", 1)[-1]
    client = PartnerClient.objects.get(organization=org)
    assert client.token_hash == hash_token(token) and client.scopes == ["referrals:read"]
    assert Api(token).get("/api/v1/sites").status_code == 200
