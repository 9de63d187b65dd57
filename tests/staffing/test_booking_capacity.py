"""Booking beyond the day's rostered staff time warns and needs an override; suggestions show staffing warnings."""

from datetime import timedelta

import pytest
from django.utils import timezone

from healthops.audit import system_user
from healthops.errors import Conflict
from healthops.models import Override
from scheduling.selectors import slot_suggestions
from scheduling.services import appointment_book, slot_book
from scheduling.slots import find_slots

from .. import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(north):
    service = factories.bookable_clinic(north)  # one physician rostered 14:00-20:00 UTC: 360 min a day
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=3)
    return {"site": north, "service": service, "day": day}


def fill_rostered_time(clinic):
    """360 physician minutes booked that (site-local) day in room-only bookings, so the roster is used up."""
    spare_room = factories.room(clinic["site"])
    for i in range(12):
        appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"], site=clinic["site"],
                         start=clinic["day"] + timedelta(hours=15, minutes=30 * i), resources=[spare_room.resource],
                         actor=system_user())


def slot_that_day(clinic):
    found = find_slots(service_type=clinic["service"], sites=[clinic["site"].pk], start=clinic["day"],
                       end=clinic["day"] + timedelta(days=1))
    return found[0]


def test_within_rostered_time_books_without_fuss(clinic):
    appointment = slot_book(token=slot_that_day(clinic).token, patient=factories.patient(clinic["site"]),
                            actor=system_user())
    assert appointment.status == "booked" and not Override.objects.exists()


def test_beyond_rostered_time_needs_an_override(clinic, scheduler):
    fill_rostered_time(clinic)
    slot = slot_that_day(clinic)
    with pytest.raises(Conflict, match="needs an override") as refused:
        slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=scheduler)
    assert refused.value.code == "staffing-capacity"
    appointment = slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=scheduler,
                            override={"reason_code": "capacity-approved",
                                      "justification": "Clinic lead approved an extra hour for this list"})
    assert appointment.status == "booked"
    assert Override.objects.get().rule == "staffing.capacity"


def test_suggestions_carry_staffing_warnings(clinic, settings):
    from staffing.models import StaffingSettings

    config = StaffingSettings.current()
    config.weekly_hours_threshold = 10  # the physician's 6 h days pass this within the week
    config.save()
    suggestions = slot_suggestions(service_type=clinic["service"], site_ids=[clinic["site"].pk], limit=12)
    assert any("threshold" in w for s in suggestions for w in s.warnings)


def test_board_shows_staffing_warnings_on_staff_rows(clinic, client, scheduler):
    from staffing.models import StaffingSettings

    config = StaffingSettings.current()
    config.weekly_hours_threshold = 10
    config.save()
    client.force_login(scheduler)
    local_day = (clinic["day"] + timedelta(hours=15)).astimezone(clinic["site"].tz).date()
    page = client.get("/scheduling/board/", {"site": clinic["site"].pk, "day": local_day.isoformat()})
    assert page.status_code == 200
    assert "staffing-warning" in page.content.decode() and "Overtime" in page.content.decode()


def test_a_credential_that_lapsed_after_the_search_blocks_the_booking(clinic):
    from datetime import date

    from staffing.models import Credential, CredentialKind, StaffMember

    kind = CredentialKind.objects.create(code="derm-cert", name="Dermatology certification")
    clinic["service"].required_credential = kind
    clinic["service"].save()
    doctor = StaffMember.objects.get()
    credential = Credential.objects.create(staff=doctor, kind=kind, expires_on=date(2099, 1, 1))
    slot = slot_that_day(clinic)
    credential.expires_on = date(2000, 1, 1)
    credential.save()
    with pytest.raises(Conflict, match="expired") as refused:
        slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=system_user())
    assert refused.value.code == "credential"
