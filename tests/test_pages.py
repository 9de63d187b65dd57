"""The scheduling, authorization and staffing list pages: scoping, filters, fragments, permissions, time zones."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from authorizations.services import (
    authorization_create,
    authorization_mark_submitted,
    authorization_record_decision,
    coverage_create,
)
from healthops.audit import system_user
from referrals.services import referral_link_authorization
from scheduling.services import appointment_book
from staffing.models import Credential, CredentialKind

from . import factories

pytestmark = pytest.mark.django_db
APPOINTMENTS = reverse("scheduling:appointments")
AUTHORIZATIONS = reverse("authorizations:list")
STAFF = reverse("staffing:staff")
NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nobody(north):
    """Signed in, works at North, but has no role."""
    return factories.user("nobody", None, sites=[north])


def _book(at, patient, service, start, room_name):
    return appointment_book(patient=patient, service_type=service, site=at, start=start,
                            resources=[factories.room(at, name=room_name).resource], actor=system_user())


@pytest.fixture
def appointments(north, south):
    north.time_zone = "America/Los_Angeles"
    north.save()
    service = factories.service_type(name="Echocardiogram")
    return {
        "north": _book(north, factories.patient(north, family_name="Northcott"), service,
                       datetime(2030, 1, 7, 17, 0, tzinfo=UTC), "Echo room 1"),
        "north_past": _book(north, factories.patient(north, family_name="Pastor"), service,
                            datetime(2029, 12, 1, 17, 0, tzinfo=UTC), "Echo room 2"),
        "south": _book(south, factories.patient(south, family_name="Southby"), service,
                       datetime(2030, 1, 7, 17, 0, tzinfo=UTC), "Echo room 3"),
    }


@pytest.mark.parametrize("url", [APPOINTMENTS, AUTHORIZATIONS, STAFF])
def test_anonymous_visitor_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("url", [APPOINTMENTS, AUTHORIZATIONS, STAFF, reverse("referrals:list")])
def test_user_without_the_view_permission_gets_a_friendly_403(client, nobody, url):
    client.force_login(nobody)
    response = client.get(url)
    assert response.status_code == 403
    assert "You can't open this page" in response.content.decode()


def test_appointments_upcoming_at_the_users_sites_in_site_time(client, coordinator, appointments):
    client.force_login(coordinator)
    response = client.get(APPOINTMENTS)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Northcott" in body and "Southby" not in body
    assert "Pastor" not in body  # upcoming only, by default
    assert "09:00–09:30 PST" in body  # 17:00 UTC in Los Angeles
    assert "Echo room 1" in body


def test_appointment_filters(client, coordinator, appointments):
    client.force_login(coordinator)
    body = client.get(APPOINTMENTS, {"date_from": ""}).content.decode()
    assert "Northcott" in body and "Pastor" in body
    body = client.get(APPOINTMENTS, {"date_from": "", "date_to": "2029-12-31"}).content.decode()
    assert "Pastor" in body and "Northcott" not in body
    body = client.get(APPOINTMENTS, {"status": "cancelled"}).content.decode()
    assert "No appointments match these filters" in body


@pytest.mark.parametrize("params", [{"status": "maybe"}, {"date_from": "yesterday"},
                                    {"date_from": "2030-02-01", "date_to": "2030-01-01"}])
def test_appointment_bad_filter_is_a_400(client, coordinator, appointments, params):
    client.force_login(coordinator)
    response = client.get(APPOINTMENTS, params)
    assert response.status_code == 400
    assert "Some filters could not be used" in response.content.decode()


def test_appointment_site_filter_refuses_another_site(client, coordinator, appointments, south):
    client.force_login(coordinator)
    assert client.get(APPOINTMENTS, {"site": south.pk}).status_code == 400


def test_appointment_fragment_for_htmx(client, coordinator, appointments):
    client.force_login(coordinator)
    response = client.get(APPOINTMENTS, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="appointment-table">') and "<html" not in body
    assert "Northcott" in body


def test_appointment_list_query_count_is_constant(client, coordinator, north, django_assert_max_num_queries):
    client.force_login(coordinator)
    service = factories.service_type()
    start = datetime(2030, 2, 1, 15, tzinfo=UTC)
    _book(north, factories.patient(north), service, start, "R0")
    with CaptureQueriesContext(connection) as few:
        client.get(APPOINTMENTS)
    for i in range(1, 15):
        _book(north, factories.patient(north), service, start + timedelta(hours=i), f"R{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(APPOINTMENTS)


# Authorizations


@pytest.fixture
def authorizations(north, south):
    actor = system_user()
    payer = factories.payer()
    service = factories.service_type(name="Lumbar MRI")
    made = {}
    for name, at, family in (("pending", north, "Pendleton"), ("late", north, "Latimer"),
                             ("approved", north, "Approva"), ("south", south, "Southby")):
        patient = factories.patient(at, family_name=family)
        coverage = coverage_create(patient=patient, payer=payer, member_id=f"TEST-{name}", period_start=date(2029, 1, 1),
                                   actor=actor)
        auth = authorization_create(coverage=coverage, service_type=service, actor=actor,
                                    urgency="expedited" if name == "late" else "standard")
        referral_link_authorization(referral=factories.referral(at, patient, service, coverage=coverage),
                                    authorization=auth, actor=actor)
        made[name] = auth
    authorization_mark_submitted(authorization=made["pending"], actor=actor, submitted_at=NOW - timedelta(days=2))
    authorization_mark_submitted(authorization=made["late"], actor=actor, submitted_at=NOW - timedelta(hours=80))
    authorization_mark_submitted(authorization=made["approved"], actor=actor, submitted_at=NOW - timedelta(days=1))
    authorization_record_decision(authorization=made["approved"], decision_code="A1", actor=actor,
                                  auth_number="AUTH-123", valid_from=date(2030, 1, 1), valid_to=date(2030, 3, 31))
    return made


def test_authorizations_show_payer_clocks(client, authspecialist, authorizations):
    client.force_login(authspecialist)
    response = client.get(AUTHORIZATIONS)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Pendleton" in body and "Latimer" in body and "Approva" in body and "Southby" not in body
    assert "5d 0h left" in body  # standard: 7 calendar days from submission, 2 days ago
    assert "overdue by 8h 0m" in body  # expedited: 72 hours, submitted 80 hours ago
    assert "AUTH-123" in body and "A1" in body


def test_authorization_filters(client, authspecialist, authorizations):
    client.force_login(authspecialist)
    body = client.get(AUTHORIZATIONS, {"status": "approved"}).content.decode()
    assert "Approva" in body and "Pendleton" not in body
    body = client.get(AUTHORIZATIONS, {"urgency": "expedited"}).content.decode()
    assert "Latimer" in body and "Pendleton" not in body
    assert client.get(AUTHORIZATIONS, {"urgency": "yesterday"}).status_code == 400
    fragment = client.get(AUTHORIZATIONS, {"status": "approved"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="authorization-table">')


def test_authorization_list_query_count_is_constant(client, authspecialist, authorizations, north,
                                                    django_assert_max_num_queries):
    client.force_login(authspecialist)
    with CaptureQueriesContext(connection) as few:
        client.get(AUTHORIZATIONS)
    actor, payer, service = system_user(), factories.payer(), factories.service_type()
    for i in range(10):
        patient = factories.patient(north)
        coverage = coverage_create(patient=patient, payer=payer, member_id=f"X-{i}", period_start=date(2029, 1, 1),
                                   actor=actor)
        referral_link_authorization(referral=factories.referral(north, patient, service, coverage=coverage),
                                    authorization=authorization_create(coverage=coverage, service_type=service,
                                                                       actor=actor), actor=actor)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(AUTHORIZATIONS)


# Staffing


def _staff(at, family_name):
    member = factories.staff(at)
    type(member).objects.filter(pk=member.pk).update(family_name=family_name)
    return member


@pytest.fixture
def staff(north, south):
    license_ = CredentialKind.objects.create(code="state-license", name="State licence")
    bls = CredentialKind.objects.create(code="bls", name="BLS")
    soon = _staff(north, "Soonexpire")
    Credential.objects.create(staff=soon, kind=license_, expires_on=NOW.date() + timedelta(days=10))
    Credential.objects.create(staff=soon, kind=bls, expires_on=NOW.date() + timedelta(days=400))
    gone = _staff(north, "Lapsed")
    Credential.objects.create(staff=gone, kind=license_, expires_on=NOW.date() - timedelta(days=1))
    _staff(south, "Southstaff")
    return {"soon": soon, "gone": gone}


def test_staff_list_with_credentials_for_managers(client, manager, staff):
    client.force_login(manager)
    response = client.get(STAFF)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Soonexpire" in body and "Lapsed" in body and "Southstaff" in body  # managers see the network
    assert '<div class="flag-warn">' in body and '<div class="flag-bad">' in body
    assert "expired Jan 5, 2030" in body


def test_staff_list_scoped_and_without_credentials_for_schedulers(client, scheduler, staff):
    client.force_login(scheduler)
    body = client.get(STAFF).content.decode()
    assert "Soonexpire" in body and "Southstaff" not in body
    assert "State licence" not in body  # schedulers may not view credentials


def test_staff_filters(client, manager, staff, south):
    client.force_login(manager)
    body = client.get(STAFF, {"site": south.pk}).content.decode()
    assert "Southstaff" in body and "Soonexpire" not in body
    body = client.get(STAFF, {"q": "laps"}).content.decode()
    assert "Lapsed" in body and "Soonexpire" not in body
    assert client.get(STAFF, {"role": "wizard"}).status_code == 400
    fragment = client.get(STAFF, {"q": "laps"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="staff-table">')


def test_staff_list_query_count_is_constant(client, manager, staff, north, django_assert_max_num_queries):
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(STAFF)
    for _ in range(10):
        factories.staff(north)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(STAFF)


def test_navigation_matches_roles(client, scheduler, authspecialist):
    client.force_login(scheduler)
    body = client.get(APPOINTMENTS).content.decode()
    assert 'href="/staffing/"' in body and 'href="/authorizations/"' not in body
    client.force_login(authspecialist)
    body = client.get(AUTHORIZATIONS).content.decode()
    assert 'href="/authorizations/"' in body and 'href="/staffing/"' not in body


def test_authorizations_awaiting_a_decision_come_first(client, authspecialist, authorizations):
    client.force_login(authspecialist)
    listed = list(client.get(AUTHORIZATIONS).context["page_obj"])
    # Latimer's clock ran out first, then Pendleton's; the decided one comes last.
    assert listed == [authorizations["late"], authorizations["pending"], authorizations["approved"]]


def test_payer_scorecard_page(client, manager, coordinator):
    client.force_login(manager)
    response = client.get("/authorizations/scorecard/")
    assert response.status_code == 200 and b"Payer scorecard" in response.content
    assert client.get("/authorizations/scorecard/?from=2026-05-01&to=2026-01-01").status_code == 400
    assert client.get("/authorizations/scorecard/?from=garbage&to=2026-01-01").status_code == 400
