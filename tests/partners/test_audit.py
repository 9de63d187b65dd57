"""Every partner API call is recorded and logged with client, endpoint, status and latency; no identifiers."""

import json
import logging

import pytest

from partners.models import ApiCall

from .conftest import create_patient

pytestmark = pytest.mark.django_db


def test_each_call_is_recorded_with_its_route_not_its_path(api_a, partner_a, caplog):
    caplog.set_level(logging.INFO, logger="healthops.api")
    patient_id = create_patient(api_a, mrn="MRN-77", family="Zyxwvut")
    api_a.get(f"/fhir/r4/ServiceRequest?patient=Patient/{patient_id}")
    api_a.get("/fhir/r4/ServiceRequest/999999")
    calls = list(ApiCall.objects.order_by("at").values_list("method", "route", "status", "client_id"))
    assert [c[:3] for c in calls] == [("POST", "fhir/r4/Patient", 201), ("GET", "fhir/r4/ServiceRequest", 200),
                                      ("GET", "fhir/r4/ServiceRequest/<id:pk>", 404)]
    assert {c[3] for c in calls} == {partner_a[0].pk}
    logged = " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records if r.name == "healthops.api")
    assert "latency_ms" in logged and "Zyxwvut" not in logged and "MRN-77" not in logged
    assert str(patient_id) not in " ".join(route for _, route, _, _ in calls)


def test_refused_calls_are_recorded_too(client):
    assert client.get("/fhir/r4/metadata", HTTP_AUTHORIZATION="Bearer nope").status_code in (200, 401)
    assert client.get("/api/v1/sites").status_code == 401
    assert ApiCall.objects.filter(status=401, client__isnull=True).exists()
