"""The scheduling pages over HTTP: the board, the appointment page and its actions, rescheduling, booking from a
referral (taken slots, full group sessions) and the waitlist."""

from datetime import date, timedelta

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
from healthops import permissions
from healthops.audit import system_user
from healthops.models import Override
from referrals.models import Referral
from referrals.services import referral_link_appointment, referral_link_authorization
from scheduling.models import Appointment, AvailabilityException, WaitlistEntry, WaitlistOffer
from scheduling.services import appointment_book, appointment_transition, slot_book
from scheduling.slots import find_slots
from scheduling.waitlist import waitlist_add
from staffing.models import StaffMember

from .. import factories
from .conftest import local, shift

pytestmark = pytest.mark.django_db
S = Appointment.Status
NOW = local(2030, 3, 1, 9)  # Friday; the slots are on Monday 2030-03-04
BOARD = reverse("scheduling:board")
WAITLIST = reverse("scheduling:waitlist")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def site(clinic):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    return clinic["site"]


@pytest.fixture
def sched(site):
    return factories.user("sched-img", permissions.SCHEDULER, sites=[site])


@pytest.fixture
def viewer(site):
    """Sees the site's appointments but may not change them."""
    return factories.user("coord-img", permissions.COORDINATOR, sites=[site])


@pytest.fixture
def elsewhere(south):
    return factories.user("sched-south", permissions.SCHEDULER, sites=[south])


@pytest.fixture
def patient(site):
    return factories.patient(site, given_name="Jane", family_name="Doe")


def book(clinic, patient, hour=9, status=S.BOOKED):
    return appointment_book(patient=patient, service_type=clinic["service"], site=clinic["site"],
                            start=local(2030, 3, 4, hour), status=status, actor=system_user(),
                            resources=[clinic["tech"].resource, clinic["room"].resource, clinic["scanner"].resource])


def appointment_url(appointment, action=None):
    if action:
        return reverse("scheduling:appointment-action", args=[appointment.pk, action])
    return reverse("scheduling:appointment", args=[appointment.pk])


# The board


def test_board_day_shows_resources_bookings_free_time_and_closures(client, sched, clinic, site, patient,
                                                                  django_assert_max_num_queries):
    appointment = book(clinic, patient)
    AvailabilityException.objects.create(resource=clinic["room"].resource, kind="maintenance", reason="Coil check",
                                         start=local(2030, 3, 4, 15), end=local(2030, 3, 4, 17))
    client.force_login(sched)
    with django_assert_max_num_queries(32):  # 25 for the board, a fixed few for its staffing warnings
        response = client.get(BOARD, {"site": site.pk, "day": "2030-03-04"})
    assert response.status_code == 200
    board = response.context["board"]
    assert [r.name for r in board.rows] == [clinic["tech"].display_name, "MRI 1", "Scanner A"]
    body = response.content.decode()
    assert body.count(f'href="{appointment_url(appointment)}"') == 3  # one block per resource held
    assert "J.D." in body and "MRI brain" in body and "Doe" not in body  # initials only
    assert "status-booked" in body and "band-free" in body and "band-shift" in body
    assert "Maintenance" in body and "Coil check" in body
    assert "07:00" in body and "18:00" in body  # the working day, in site time
    tech_row = board.rows[0]
    free = [i for i in tech_row.items if i.kind == "free"]
    assert [(i.start, i.end) for i in free] == [(local(2030, 3, 4, 8), local(2030, 3, 4, 9)),
                                                (local(2030, 3, 4, 10), local(2030, 3, 4, 12))]


def test_board_query_count_does_not_grow_with_bookings(client, sched, clinic, site, django_assert_max_num_queries):
    client.force_login(sched)
    book(clinic, factories.patient(site), hour=8)
    params = {"site": site.pk, "day": "2030-03-04"}
    with CaptureQueriesContext(connection) as few:
        client.get(BOARD, params)
    for hour in (9, 10, 11):
        book(clinic, factories.patient(site), hour=hour)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(BOARD, params)


def test_board_fragment_for_htmx_and_navigation_links(client, sched, site):
    client.force_login(sched)
    response = client.get(BOARD, {"site": site.pk, "day": "2030-03-04"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board"') and "<html" not in body
    assert 'hx-push-url="true"' in body
    assert f'href="?site={site.pk}&amp;day=2030-03-03&amp;view=day"' in body  # previous day, a real link
    assert f'href="?site={site.pk}&amp;day=2030-03-05&amp;view=day"' in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_board_defaults_to_the_users_site_today(client, sched, site):
    client.force_login(sched)
    board = client.get(BOARD).context["board"]
    assert board.site == site and board.day == NOW.astimezone(site.tz).date() and board.view == "day"


def test_board_week_totals(client, sched, clinic, site, patient):
    book(clinic, patient)
    client.force_login(sched)
    response = client.get(BOARD, {"site": site.pk, "day": "2030-03-06", "view": "week"})
    assert response.status_code == 200
    board = response.context["board"]
    assert board.days[0].isoformat() == "2030-03-04"
    tech = board.rows[0].cells[0]
    assert (tech["booked"], tech["open"], tech["share"]) == ("1h00", "4h00", 25)
    assert board.rows[0].cells[1]["empty"]  # no shift on Tuesday
    assert 'view=day' in response.content.decode()


def test_board_refuses_another_sites_board(client, sched, south):
    client.force_login(sched)
    response = client.get(BOARD, {"site": south.pk})
    assert response.status_code == 400
    assert "Some filters could not be used" in response.content.decode()


# The appointment page and its actions


def test_appointment_page(client, sched, clinic, site, patient):
    appointment = book(clinic, patient)
    referral = factories.referral(site, patient, clinic["service"])
    referral_link_appointment(referral=referral, appointment=appointment, actor=system_user())
    client.force_login(sched)
    response = client.get(appointment_url(appointment))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Jane Doe" in body and "MRI brain" in body and "MRI 1" in body and "Scanner A" in body
    assert "09:00–10:00 CST" in body  # site time
    assert f'href="{referral.get_absolute_url()}"' in body
    assert "appointment.booked" in body
    labels = [a["label"] for a in response.context["actions"]]
    assert labels == ["Check in", "Arrived", "No-show", "Cancel"]
    assert reverse("scheduling:appointment-reschedule", args=[appointment.pk]) in body


def test_appointment_list_rows_link_to_the_appointment(client, sched, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(sched)
    body = client.get(reverse("scheduling:appointments"), {"date_from": ""}).content.decode()
    assert f'href="{appointment_url(appointment)}"' in body


@pytest.mark.parametrize(("start", "action", "expected"), [
    (S.PENDING, "confirm", S.BOOKED),
    (S.BOOKED, "check-in", S.CHECKED_IN),
    (S.BOOKED, "arrived", S.ARRIVED),
    (S.CHECKED_IN, "fulfilled", S.FULFILLED),
    (S.BOOKED, "no-show", S.NOSHOW),
])
def test_appointment_actions(client, sched, clinic, patient, start, action, expected):
    appointment = book(clinic, patient, status=S.PENDING if start == S.PENDING else S.BOOKED)
    if start == S.CHECKED_IN:
        appointment_transition(appointment=appointment, to_status=S.CHECKED_IN, actor=system_user())
    client.force_login(sched)
    response = client.post(appointment_url(appointment, action), follow=True)
    assert response.redirect_chain == [(appointment_url(appointment), 302)]
    appointment.refresh_from_db()
    assert appointment.status == expected
    assert f"Appointment is now {appointment.get_status_display().lower()}" in response.content.decode()


def test_cancel_needs_a_reason_and_records_it(client, sched, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(sched)
    refused = client.post(appointment_url(appointment, "cancel"), {"reason": "", "text": "x"})
    assert refused.status_code == 400 and "Say why it is cancelled" in refused.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    response = client.post(appointment_url(appointment, "cancel"), {"reason": "facility", "text": "Scanner down"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_reason, appointment.cancel_text) == (
        S.CANCELLED, "facility", "Scanner down")


def test_refused_transition_says_why_and_changes_nothing(client, sched, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(sched)
    response = client.post(appointment_url(appointment, "fulfilled"))
    assert response.status_code == 409
    assert "cannot become fulfilled" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert client.post(appointment_url(appointment, "teleport")).status_code == 404


def test_htmx_action_is_told_where_to_go(client, sched, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(sched)
    response = client.post(appointment_url(appointment, "check-in"), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == appointment_url(appointment)


def test_actions_need_the_change_permission(client, viewer, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(viewer)
    assert client.get(appointment_url(appointment)).status_code == 200
    assert client.post(appointment_url(appointment, "check-in")).status_code == 403
    assert client.get(reverse("scheduling:appointment-reschedule", args=[appointment.pk])).status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


def test_appointments_outside_the_users_sites_are_not_found(client, elsewhere, clinic, patient):
    appointment = book(clinic, patient)
    client.force_login(elsewhere)
    assert client.get(appointment_url(appointment)).status_code == 404
    assert client.post(appointment_url(appointment, "check-in")).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


def test_reschedule_lists_slots_and_moves_the_appointment(client, sched, clinic, patient):
    appointment = book(clinic, patient, hour=8)
    url = reverse("scheduling:appointment-reschedule", args=[appointment.pk])
    client.force_login(sched)
    response = client.get(url)
    assert response.status_code == 200
    suggestions = response.context["suggestions"]
    assert suggestions and all(s.start >= local(2030, 3, 4, 9) for s in suggestions)
    assert client.post(url, {"token": suggestions[0].token, "reason": ""}).status_code == 400
    response = client.post(url, {"token": suggestions[0].token, "reason": "patient", "text": "Asked for later"})
    old = Appointment.objects.get(pk=appointment.pk)
    new = old.rescheduled_to
    assert response.status_code == 302 and response["Location"] == appointment_url(new)
    assert old.status == S.CANCELLED and new.status == S.BOOKED and new.start == suggestions[0].start
    body = client.get(appointment_url(new)).content.decode()
    assert f'href="{appointment_url(old)}"' in body  # "moved from"


# Booking from a referral


@pytest.fixture
def referral(site, patient, clinic):
    return factories.referral(site, patient, clinic["service"])


def book_url(referral):
    return reverse("referrals:book", args=[referral.pk])


def test_book_from_a_referral_end_to_end(client, sched, referral, site):
    client.force_login(sched)
    detail = client.get(referral.get_absolute_url()).content.decode()
    assert f'href="{book_url(referral)}"' in detail
    response = client.get(book_url(referral))
    assert response.status_code == 200
    suggestions = response.context["suggestions"]
    assert suggestions[0].start == local(2030, 3, 4, 8) and suggestions[0].room == "MRI 1"
    assert suggestions[0].equipment == ["Scanner A"] and suggestions[0].staff
    body = response.content.decode()
    assert "08:00–09:00 CST" in body and 'name="token"' in body
    response = client.post(book_url(referral), {"token": suggestions[0].token}, follow=True)
    assert response.redirect_chain == [(referral.get_absolute_url(), 302)]
    referral.refresh_from_db()
    assert referral.stage == Referral.Stage.BOOKED and referral.stage_reason == "Booked by sched-img"
    appointment = referral.appointments.get()
    assert appointment.start == local(2030, 3, 4, 8) and appointment.patient == referral.patient
    body = response.content.decode()
    assert "Booked MRI brain on Mon Mar 4, 08:00 CST" in body
    assert f'href="{book_url(referral)}"' not in body  # booked: nothing more to book
    again = client.post(book_url(referral), {"token": suggestions[1].token})
    assert again.status_code == 409 and referral.appointments.count() == 1


def test_a_taken_slot_gets_fresh_suggestions(client, sched, referral, site):
    client.force_login(sched)
    first = client.get(book_url(referral)).context["suggestions"][0]
    slot_book(token=first.token, patient=factories.patient(site), actor=system_user())  # someone else was quicker
    response = client.post(book_url(referral), {"token": first.token})
    assert response.status_code == 409
    assert "That slot was just taken; here are fresh suggestions" in response.content.decode()
    fresh = response.context["suggestions"]
    assert fresh and fresh[0].start != first.start
    referral.refresh_from_db()
    assert referral.stage == Referral.Stage.INTAKE and not referral.appointments.exists()


def test_booking_suggestions_respect_the_authorization_window(client, sched, referral):


    actor = system_user()
    coverage = coverage_create(patient=referral.patient, payer=factories.payer(), member_id="TEST-ACTIVE-1",
                               period_start=date(2030, 1, 1), actor=actor)
    auth = authorization_create(coverage=coverage, service_type=referral.service_type, actor=actor)
    authorization_mark_submitted(authorization=auth, actor=actor)
    authorization_record_decision(authorization=auth, decision_code="A1", actor=actor, auth_number="AUTH-9",
                                  valid_from=date(2030, 3, 5), valid_to=date(2030, 3, 31))
    referral_link_authorization(referral=referral, authorization=auth, actor=actor)
    client.force_login(sched)
    response = client.get(book_url(referral))
    assert "AUTH-9" in response.content.decode()
    assert response.context["suggestions"] == []  # the only shift is on the 4th, before the authorization starts


def test_booking_needs_the_add_permission_and_a_bookable_referral(client, viewer, sched, site, clinic):
    referral = factories.referral(site, factories.patient(site), clinic["service"])
    client.force_login(viewer)
    assert client.get(book_url(referral)).status_code == 403
    assert f'href="{book_url(referral)}"' not in client.get(referral.get_absolute_url()).content.decode()
    unknown = factories.referral(site, factories.patient(site), clinic["service"])
    Referral.objects.filter(pk=unknown.pk).update(service_type=None)
    client.force_login(sched)
    response = client.get(book_url(unknown))
    assert "set the service before booking" in response.content.decode()
    assert client.post(book_url(unknown), {"token": "x"}).status_code == 400


def test_full_group_session_can_be_booked_with_an_override(client, sched, clinic, site):
    group = factories.service_type(code="mri-group", name="MRI group session", duration_minutes=60, capacity=2,
                                   staff_role=StaffMember.Role.RADIOLOGY_TECH, room_kind=clinic["room"].kind,
                                   min_notice_hours=0)
    session = slot_book(token=find_slots(service_type=group, sites=[site.pk])[0].token,
                        patient=factories.patient(site), actor=system_user())
    referral = factories.referral(site, factories.patient(site), group)
    client.force_login(sched)
    response = client.get(book_url(referral))
    joinable = response.context["suggestions"][0]
    assert joinable.group_session and joinable.start == session.start
    assert "1 of 2 places left" in response.content.decode()
    slot_book(token=joinable.token, patient=factories.patient(site), actor=system_user())  # the last place goes

    response = client.post(book_url(referral), {"token": joinable.token})
    assert response.status_code == 409
    body = response.content.decode()
    assert 'id="override-form"' in body and "The session is full" in body
    short = client.post(book_url(referral), {"token": joinable.token, "override_reason": "capacity-approved",
                                             "justification": "ok"})
    assert short.status_code == 400 and 'id="override-form"' in short.content.decode()
    response = client.post(book_url(referral), {"token": joinable.token, "override_reason": "capacity-approved",
                                                "justification": "Department lead approved one extra place"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == Referral.Stage.BOOKED
    assert referral.appointments.get().booking_id == session.booking_id
    assert Override.objects.get().rule == "booking.capacity"


def test_override_form_is_not_offered_for_an_ordinary_taken_slot(client, sched, referral, site):
    client.force_login(sched)
    first = client.get(book_url(referral)).context["suggestions"][0]
    slot_book(token=first.token, patient=factories.patient(site), actor=system_user())
    assert 'id="override-form"' not in client.post(book_url(referral), {"token": first.token}).content.decode()


# The waitlist


def add_form(clinic, patient, **extra):
    return {"mrn": patient.mrn, "service_type": clinic["service"].pk, "time_of_day": "any", "priority": 3, **extra}


def test_waitlist_add_through_the_page(client, sched, clinic, site, patient):
    client.force_login(sched)
    response = client.post(reverse("scheduling:waitlist-add"),
                           add_form(clinic, patient, weekdays=["0", "2"], sites=[site.pk], latest="2030-03-31"))
    assert response.status_code == 302 and response["Location"] == WAITLIST
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.weekdays, entry.priority) == (patient, [0, 2], 3)
    assert list(entry.preferred_sites.all()) == [site]
    body = client.get(WAITLIST).content.decode()
    assert "Doe, Jane" in body and "Mon, Wed" in body and "MRI brain" in body
    duplicate = client.post(reverse("scheduling:waitlist-add"), add_form(clinic, patient))
    assert duplicate.status_code == 400 and "already on the waitlist" in duplicate.content.decode()
    unknown = client.post(reverse("scheduling:waitlist-add"), add_form(clinic, patient, mrn="NOPE"))
    assert unknown.status_code == 400 and "No patient with that MRN at your sites" in unknown.content.decode()


def test_waitlist_is_scoped_and_filtered(client, sched, elsewhere, clinic, site, patient, south):
    waitlist_add(patient=patient, service_type=clinic["service"], actor=system_user(), sites=[site])
    far = factories.patient(south, family_name="Faraway")
    waitlist_add(patient=far, service_type=clinic["service"], actor=system_user(), sites=[south])
    client.force_login(sched)
    body = client.get(WAITLIST).content.decode()
    assert "Doe, Jane" in body and "Faraway" not in body
    assert "Doe, Jane" not in client.get(WAITLIST, {"status": "removed"}).content.decode()
    fragment = client.get(WAITLIST, {"status": "all"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="waitlist-table">')
    client.force_login(elsewhere)
    body = client.get(WAITLIST).content.decode()
    assert "Faraway" in body and "Doe, Jane" not in body
    assert client.post(reverse("scheduling:waitlist-add"), add_form(clinic, patient)).status_code == 400  # not theirs


@pytest.fixture
def offer(clinic, site, patient):
    """Jane waits; another patient's 09:00 appointment is cancelled, so the slot is offered to her."""
    waitlist_add(patient=patient, service_type=clinic["service"], actor=system_user())
    freed = book(clinic, factories.patient(site))
    appointment_transition(appointment=freed, to_status=S.CANCELLED, reason="patient", actor=system_user())
    return WaitlistOffer.objects.get(entry__patient=patient)


def test_accept_an_offer(client, sched, offer):
    client.force_login(sched)
    body = client.get(WAITLIST).content.decode()
    assert "Offer open" in body and "expires in 2h 0m" in body and "09:00 CST" in body
    response = client.post(reverse("scheduling:offer-answer", args=[offer.pk, "accept"]), follow=True)
    assert "Offer accepted" in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.ACCEPTED and offer.appointment.status == S.BOOKED
    again = client.post(reverse("scheduling:offer-answer", args=[offer.pk, "accept"]))
    assert again.status_code == 409 and "can no longer be accepted" in again.content.decode()


def test_decline_an_offer_and_remove_the_entry(client, sched, offer):
    client.force_login(sched)
    response = client.post(reverse("scheduling:offer-answer", args=[offer.pk, "decline"]))
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.DECLINED and offer.appointment.status == S.CANCELLED
    assert offer.entry.status == WaitlistEntry.Status.WAITING
    response = client.post(reverse("scheduling:waitlist-remove", args=[offer.entry.pk]))
    assert response.status_code == 302
    offer.entry.refresh_from_db()
    assert offer.entry.status == WaitlistEntry.Status.REMOVED


def test_offer_held_appointment_is_answered_as_an_offer(client, sched, offer):
    client.force_login(sched)
    page = client.get(appointment_url(offer.appointment))
    assert "held for a waitlist offer" in page.content.decode() and page.context["actions"] == []
    response = client.post(appointment_url(offer.appointment, "confirm"))
    assert response.status_code == 409
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.OPEN


def test_offers_and_entries_outside_scope_are_not_found(client, elsewhere, viewer, offer):
    client.force_login(elsewhere)
    assert client.post(reverse("scheduling:offer-answer", args=[offer.pk, "accept"])).status_code == 404
    assert client.post(reverse("scheduling:waitlist-remove", args=[offer.entry.pk])).status_code == 404
    client.force_login(viewer)
    assert client.post(reverse("scheduling:offer-answer", args=[offer.pk, "accept"])).status_code == 403
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.OPEN


def test_waitlist_query_count_is_constant(client, sched, clinic, site, django_assert_max_num_queries):
    client.force_login(sched)
    waitlist_add(patient=factories.patient(site), service_type=clinic["service"], actor=system_user(), sites=[site])
    with CaptureQueriesContext(connection) as few:
        client.get(WAITLIST)
    for _ in range(5):
        waitlist_add(patient=factories.patient(site), service_type=clinic["service"], actor=system_user(),
                     sites=[site], earliest=(NOW + timedelta(days=1)).date())
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(WAITLIST)
