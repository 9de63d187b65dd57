"""Booking outside the availability templates and shifts: an override with the permission, a reason code and a
justification; audited and evented. What no override lifts stays refused and writes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from healthops.errors import Conflict, DomainError, NotAllowed
from healthops.models import Event, Override
from referrals.models import Referral
from referrals.services import referral_book_outside_template
from scheduling.models import Appointment, Room, ServiceType
from staffing.models import StaffMember, TimeOff

from .. import factories

pytestmark = pytest.mark.django_db
OVERRIDE = {"reason_code": "clinical-urgency", "justification": "Dr. stays late for this urgent consult"}


@pytest.fixture
def case(north):
    service = factories.bookable_clinic(north)  # physician on shift 14:00-20:00 UTC, room open around the clock
    referral = factories.referral(north, factories.patient(north), service)
    tomorrow = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {"referral": referral, "service": service, "tomorrow": tomorrow,
            "doctor": StaffMember.objects.get(sites=north).resource,
            "room": Room.objects.get(site=north).resource}


def book(case, actor, *, hour, override=OVERRIDE, **kw):
    return referral_book_outside_template(referral=case["referral"], start=case["tomorrow"] + timedelta(hours=hour),
                                          staff_resource=kw.get("staff", case["doctor"]),
                                          room_resource=kw.get("room", case["room"]), actor=actor, override=override)


def test_an_evening_booking_needs_an_override_and_records_it(case, scheduler):
    assert Override.ReasonCode("clinical-urgency")  # the reason used here is one of the configured codes
    with pytest.raises(Conflict) as refused:
        book(case, scheduler, hour=21, override=None)
    assert refused.value.code == "outside-template" and not Appointment.objects.exists()

    appointment = book(case, scheduler, hour=21)
    assert appointment.start == case["tomorrow"] + timedelta(hours=21)
    assert appointment.end - appointment.start == timedelta(minutes=case["service"].duration_minutes)
    override = Override.objects.get(rule="booking.outside-template")
    assert override.actor == scheduler and override.reason_code == "clinical-urgency"
    recorded = Event.objects.get(type__contains="override.recorded")
    assert recorded.data["rule"] == "booking.outside-template" and recorded.actor == scheduler
    case["referral"].refresh_from_db()
    assert case["referral"].stage == Referral.Stage.BOOKED


def test_a_time_the_schedule_offers_books_without_an_override(case, scheduler):
    book(case, scheduler, hour=15, override=None)
    assert Appointment.objects.count() == 1 and not Override.objects.exists()


def test_the_permission_is_needed(case, coordinator):
    with pytest.raises(NotAllowed):
        book(case, coordinator, hour=21)
    assert not Appointment.objects.exists() and not Override.objects.exists()


def test_what_no_override_lifts(case, scheduler, north):
    TimeOff.objects.create(staff=StaffMember.objects.get(resource=case["doctor"]),
                           start=case["tomorrow"] + timedelta(hours=6), end=case["tomorrow"] + timedelta(hours=8))
    with pytest.raises(Conflict) as on_leave:
        book(case, scheduler, hour=6)
    assert on_leave.value.code == "time-off"

    book(case, scheduler, hour=21)
    other = factories.referral(north, factories.patient(north), case["service"])
    with pytest.raises(Conflict) as taken:
        referral_book_outside_template(referral=other, start=case["tomorrow"] + timedelta(hours=21, minutes=15),
                                       staff_resource=case["doctor"], room_resource=case["room"], actor=scheduler,
                                       override=OVERRIDE)
    assert taken.value.code == "slot-taken"
    with pytest.raises(DomainError):  # a clinician who cannot deliver the service is refused before anything else
        nurse = factories.staff(north, role=StaffMember.Role.NURSE).resource
        book(case, scheduler, hour=22, staff=nurse)
    assert Appointment.objects.count() == 1 and Override.objects.count() == 1


def test_the_booking_page_offers_it_and_answers_bad_input_with_400(case, scheduler, client):
    client.force_login(scheduler)
    url = reverse("referrals:book", args=[case["referral"].pk])
    page = client.get(url)
    assert page.status_code == 200 and b"Book outside the schedule" in page.content

    post = reverse("referrals:book-outside", args=[case["referral"].pk])
    local = (case["tomorrow"] + timedelta(hours=21)).astimezone(case["referral"].site.tz)
    good = {"outside-day": local.date().isoformat(), "outside-time": local.strftime("%H:%M"),
            "outside-staff": case["doctor"].pk, "outside-room": case["room"].pk,
            "outside-override_reason": "clinical-urgency", "outside-justification": "Stays late for this patient"}
    bad = client.post(post, {**good, "outside-justification": "short"})
    assert bad.status_code == 400 and b"at least 10 characters" in bad.content
    assert not Appointment.objects.exists()
    done = client.post(post, good)
    assert done.status_code == 302 and Appointment.objects.count() == 1


def test_the_page_hides_it_from_those_without_the_permission(case, coordinator, client):
    client.force_login(coordinator)
    post = reverse("referrals:book-outside", args=[case["referral"].pk])
    assert client.post(post, {}).status_code == 403
    assert ServiceType.objects.count() == 1
