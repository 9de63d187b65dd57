"""Partner API fixtures: a bookable network, two partners with tokens, and a client that speaks FHIR JSON."""

import json

import pytest
from django.test import Client

from healthops.audit import system_user
from partners.models import Scope
from partners.services import partner_client_create, partner_organization_ensure

from .. import factories

ALL_SCOPES = list(Scope.values)


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def network(north, sandbox, settings):
    factories.point_at_sandbox(settings, sandbox)
    service = factories.bookable_clinic(north, auto_book=False)
    payer = factories.payer()
    from authorizations.models import PayerRule

    PayerRule.objects.create(payer=payer, service_type=service, prior_auth_required=False)
    return {"site": north, "service": service, "payer": payer, "sandbox": sandbox}


class Api:
    """A test client with a bearer token that sends JSON bodies."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.token = token

    def _headers(self, extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        headers.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (extra or {}).items()})
        return headers

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, **self._headers(headers))

    def post(self, path, body, content_type="application/fhir+json", **headers):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(path, data, content_type=content_type, **self._headers(headers))

    def delete(self, path, **headers):
        return self.client.delete(path, **self._headers(headers))


def make_partner(identifier: str, scopes=None):
    org = partner_organization_ensure(identifier=identifier, actor=system_user())
    client, token = partner_client_create(organization=org, scopes=scopes or ALL_SCOPES, actor=system_user())
    return client, Api(token)


@pytest.fixture
def partner_a(db):
    return make_partner("PARTNER-A")


@pytest.fixture
def partner_b(db):
    return make_partner("PARTNER-B")


@pytest.fixture
def api_a(partner_a):
    return partner_a[1]


@pytest.fixture
def api_b(partner_b):
    return partner_b[1]


def patient_body(mrn="MRN-1001", birth="1980-04-02", family="Rivera", given="Ana"):
    return {"resourceType": "Patient",
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}, "value": mrn}],
            "name": [{"family": family, "given": [given]}], "gender": "female", "birthDate": birth}


def service_request_body(patient_id, code="derm", **extra):
    body = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "routine",
            "subject": {"reference": f"Patient/{patient_id}"}, "code": {"coding": [{"code": code}]},
            "reasonCode": [{"text": "Changing mole"}],
            "requester": {"reference": "Practitioner/dr-jones", "display": "Dr Jones"},
            "encounter": {"reference": "Encounter/visit-9"}}
    body.update(extra)
    return body


def create_patient(api, **kw) -> int:
    response = api.post("/fhir/r4/Patient", patient_body(**kw))
    assert response.status_code in (200, 201), response.content
    return int(response.json()["id"])


def create_referral(api, patient_id, capture, **kw) -> int:
    with capture(execute=True):
        response = api.post("/fhir/r4/ServiceRequest", service_request_body(patient_id, **kw))
    assert response.status_code == 201, response.content
    return int(response.json()["id"])
