"""Native JSON: reference data shapes, pagination/filtering/ordering, constant query counts, schema and docs."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authorizations.models import Coverage, PayerRule

from .. import factories
from .conftest import create_patient, create_referral, service_request_body

pytestmark = pytest.mark.django_db


def test_reference_data_shapes(network, api_a):
    network["service"].required_documents.add(factories.document_kind("imaging-order"))
    services = api_a.get("/api/v1/service-types").json()
    item = services["results"][0]
    assert {"code", "name", "duration_minutes", "auto_book", "required_documents", "capacity"} <= set(item)
    assert item["code"] == "derm" and item["required_documents"] == ["imaging-order"]
    payers = api_a.get("/api/v1/payers").json()["results"]
    assert payers[0]["identifier"] == network["payer"].identifier and payers[0]["name"]
    assert payers[0]["rules"] == [{"service_type": "derm", "prior_auth_required": False, "required_documents": []}]
    sites = api_a.get("/api/v1/sites").json()["results"]
    assert [s["code"] for s in sites] == ["north"]


def test_bad_query_is_400_in_the_json_error_shape(api_a):
    response = api_a.get("/api/v1/referrals", {"ordering": "patient__mrn"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "ordering" in response.json()["fields"]
    assert api_a.get("/api/v1/referrals", {"stage": "nowhere"}).status_code == 400
    assert api_a.get("/api/v1/referrals", {"page_size": "1000"}).status_code == 400


def test_referral_list_pagination_filter_and_ordering(network, api_a, django_capture_on_commit_callbacks):
    patient = create_patient(api_a)
    ids = [create_referral(api_a, patient, django_capture_on_commit_callbacks) for _ in range(3)]
    page = api_a.get("/api/v1/referrals", {"page_size": 2, "ordering": "id"}).json()
    assert page["count"] == 3 and [r["id"] for r in page["results"]] == ids[:2] and page["next"]
    assert [r["id"] for r in api_a.get("/api/v1/referrals", {"ordering": "-id"}).json()["results"]] == ids[::-1]
    assert api_a.get("/api/v1/referrals", {"status": "revoked"}).json()["count"] == 0


def _queries(api, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(path).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path", ["/api/v1/referrals", "/api/v1/tasks", "/api/v1/appointments",
                                  "/api/v1/authorizations", "/api/v1/service-types", "/api/v1/payers",
                                  "/fhir/r4/ServiceRequest", "/fhir/r4/Task", "/fhir/r4/Appointment"])
def test_list_query_counts_do_not_grow_with_rows(network, api_a, django_capture_on_commit_callbacks, path):
    def add_rows(n):
        for _ in range(n):
            patient = create_patient(api_a, mrn=f"MRN-{factories.n()}", birth="1970-01-01")
            ref = create_referral(api_a, patient, django_capture_on_commit_callbacks)
            slot = api_a.get("/fhir/r4/Slot", {"service-type": "derm"}).json()["entry"][0]["resource"]["id"]
            with django_capture_on_commit_callbacks(execute=True):
                assert api_a.post("/fhir/r4/Appointment", {
                    "resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot}"}],
                    "basedOn": [{"reference": f"ServiceRequest/{ref}"}],
                    "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
                }).status_code == 201
            service = factories.service_type()
            service.required_documents.add(factories.document_kind(f"doc-{factories.n()}"))
            PayerRule.objects.create(payer=factories.payer(), service_type=service)

    add_rows(1)
    _queries(api_a, path)  # warm caches (content types, the bucket row)
    one = _queries(api_a, path)
    add_rows(3)
    assert _queries(api_a, path) == one


# What one partner POST ServiceRequest costs, as `make bench` sends it (a bearer token, an Idempotency-Key, the flow
# started later by the worker). An upper bound: it fails when the POST grows a query. See bench/api_cpu.py. (19
# queries and the savepoint pair around the referral's insert, which turns a racing duplicate into a clear refusal.)
SERVICE_REQUEST_POST_QUERIES = 21


def test_service_request_post_query_count_is_pinned(network, api_a, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: the flow's start is a message for the worker
    patient = create_patient(api_a)
    Coverage.objects.create(patient_id=patient, payer=network["payer"], member_id="TEST-ACTIVE-7",
                            period_start=timezone.localdate())

    def post(n):
        body = service_request_body(patient, identifier=[{"value": f"PIN-{n}"}])
        with CaptureQueriesContext(connection) as ctx:
            response = api_a.post("/fhir/r4/ServiceRequest", body, **{"Idempotency-Key": f"pin-{n}"})
        assert response.status_code == 201, response.content
        return [q["sql"] for q in ctx.captured_queries]

    post(0)  # warm: content types, the rate-limit bucket, last_used_at
    queries = post(1)
    assert len(queries) <= SERVICE_REQUEST_POST_QUERIES, "\n".join(q[:160] for q in queries)


def test_openapi_schema_lists_every_endpoint(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    expected = {"/fhir/r4/metadata", "/fhir/r4/Patient", "/fhir/r4/Coverage", "/fhir/r4/ServiceRequest",
                "/fhir/r4/ServiceRequest/{id}", "/fhir/r4/Slot", "/fhir/r4/Appointment", "/fhir/r4/Task",
                "/api/v1/sites", "/api/v1/service-types", "/api/v1/payers", "/api/v1/referrals",
                "/api/v1/referrals/{id}", "/api/v1/appointments", "/api/v1/authorizations", "/api/v1/tasks",
                "/api/v1/kpis", "/api/v1/staffing/staff", "/api/v1/webhooks", "/api/v1/webhooks/{id}",
                "/api/v1/webhooks/deliveries"}
    assert expected <= paths, expected - paths
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    post = schema["paths"]["/fhir/r4/ServiceRequest"]["post"]
    assert any(media.get("examples") for media in post["requestBody"]["content"].values())
    assert "application/fhir+json" in post["requestBody"]["content"]


def test_docs_ui_serves_assets_locally(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
