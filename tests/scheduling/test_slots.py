"""Slot search over shifts, weekly templates, exceptions and bookings; ranking; third-next-available."""

from datetime import UTC, date, datetime

import pytest

from healthops.audit import system_user
from scheduling.availability import expand_weekly, merge, subtract
from scheduling.models import AvailabilityException, WeeklyAvailability
from scheduling.services import appointment_book, slot_book
from scheduling.slots import Preferences, decode_slot, find_slots, third_next_available
from staffing.models import StaffMember, TimeOff

from .. import factories
from .conftest import CHI, local, shift

pytestmark = pytest.mark.django_db


def starts(cands, tz=CHI):
    return [c.start.astimezone(tz).strftime("%a %H:%M") for c in cands]


def test_interval_arithmetic_is_half_open():
    t = lambda h: datetime(2030, 1, 1, h, tzinfo=UTC)  # noqa: E731
    assert subtract([(t(8), t(12))], [(t(9), t(10))]) == [(t(8), t(9)), (t(10), t(12))]
    assert subtract([(t(8), t(12))], [(t(12), t(13))]) == [(t(8), t(12))]  # touching is not overlapping
    assert merge([(t(8), t(9)), (t(9), t(10)), (t(11), t(12))]) == [(t(8), t(10)), (t(11), t(12))]


def test_bundle_needs_staff_room_and_equipment_all_free(clinic, monday, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now,
                       limit=50)
    # 60-minute slots on a 15-minute grid between 08:00 and 12:00: 08:00 ... 11:00.
    assert starts(found)[0] == "Mon 08:00" and starts(found)[-1] == "Mon 11:00" and len(found) == 13
    first = found[0]
    assert first.staff_resource_id == clinic["tech"].resource_id
    assert first.room_resource_id == clinic["room"].resource_id
    assert first.equipment_resource_ids == (clinic["scanner"].resource_id,)


def test_booked_time_is_not_offered_but_adjacent_time_is(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"], site=clinic["site"],
                     start=local(2030, 3, 4, 9), resources=[clinic["scanner"].resource], actor=system_user())
    found = starts(find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0),
                              now=now, limit=50))
    assert "Mon 08:00" in found and "Mon 10:00" in found  # [08:00, 09:00) and [10:00, 11:00) touch the booking
    assert not {"Mon 08:15", "Mon 09:00", "Mon 09:45"} & set(found)


def test_maintenance_exception_and_time_off_remove_time(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 17))
    AvailabilityException.objects.create(resource=clinic["scanner"].resource, kind="maintenance",
                                         start=local(2030, 3, 4, 8), end=local(2030, 3, 4, 12))
    TimeOff.objects.create(staff=clinic["tech"], start=local(2030, 3, 4, 14), end=local(2030, 3, 4, 17))
    found = starts(find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0),
                              now=now, limit=50))
    assert found[0] == "Mon 12:00" and found[-1] == "Mon 13:00"


def test_templates_keep_local_hours_across_daylight_saving(clinic):
    rows = list(WeeklyAvailability.objects.filter(resource=clinic["room"].resource))
    before = expand_weekly(rows, CHI, local(2030, 3, 8, 0), local(2030, 3, 9, 0))   # Friday, CST (UTC-6)
    after = expand_weekly(rows, CHI, local(2030, 3, 11, 0), local(2030, 3, 12, 0))  # Monday, CDT (UTC-5)
    assert before == [(datetime(2030, 3, 8, 14, tzinfo=UTC), datetime(2030, 3, 8, 23, tzinfo=UTC))]
    assert after == [(datetime(2030, 3, 11, 13, tzinfo=UTC), datetime(2030, 3, 11, 22, tzinfo=UTC))]


def test_slot_search_across_the_dst_weekend_starts_at_local_eight(clinic, now):
    for day in (8, 11):
        shift(clinic["tech"], clinic["site"], local(2030, 3, day, 8), local(2030, 3, day, 10))
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 8, 0), end=local(2030, 3, 12, 0), now=now,
                       limit=50)
    assert [s for s in starts(found) if s.endswith("08:00")] == ["Fri 08:00", "Mon 08:00"]


def test_wrong_role_missing_credential_or_expired_credential_means_no_slot(clinic, now):
    from staffing.models import Credential, CredentialKind

    nurse = factories.staff(clinic["site"], role=StaffMember.Role.NURSE)
    shift(nurse, clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    window = {"start": local(2030, 3, 4, 0), "end": local(2030, 3, 5, 0), "now": now}
    assert find_slots(service_type=clinic["service"], **window) == []
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    safety = CredentialKind.objects.create(code="mri-safety", name="MRI safety")
    clinic["service"].required_credential = safety
    clinic["service"].save()
    assert find_slots(service_type=clinic["service"], **window) == []
    Credential.objects.create(staff=clinic["tech"], kind=safety, expires_on=date(2030, 3, 3))
    assert find_slots(service_type=clinic["service"], **window) == []
    Credential.objects.filter(staff=clinic["tech"]).update(expires_on=date(2031, 1, 1))
    assert find_slots(service_type=clinic["service"], **window)


def test_minimum_notice_and_authorization_window(clinic, now):
    for day in (4, 5, 6):
        shift(clinic["tech"], clinic["site"], local(2030, 3, day, 8), local(2030, 3, day, 10))
    clinic["service"].min_notice_hours = 48
    clinic["service"].save()
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 7, 0),
                       now=local(2030, 3, 3, 9), limit=50)
    assert starts(found)[0] == "Tue 09:00"  # 48 h after Sunday 09:00
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 7, 0), now=now,
                       valid_from=date(2030, 3, 6), valid_to=date(2030, 3, 6), limit=50)
    assert {c.start.astimezone(CHI).date() for c in found} == {date(2030, 3, 6)}


def test_preferences_rank_within_the_earliest_day(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 17))
    shift(clinic["tech"], clinic["site"], local(2030, 3, 5, 8), local(2030, 3, 5, 17))
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 6, 0), now=now,
                       preferences=Preferences(time_of_day="afternoon"), limit=100)
    monday = [s for s in starts(found) if s.startswith("Mon")]
    assert monday[0] == "Mon 12:00"  # afternoon first on the earliest day
    assert starts(found).index("Tue 08:00") > starts(found).index("Mon 08:00")  # but Monday before Tuesday



def test_a_day_cut_by_the_search_chunks_is_ranked_whole(clinic, now):
    # The search reads 2 days first: from Monday 12:00 that chunk ends Wednesday 12:00, with enough Wednesday
    # mornings to fill the limit. The afternoon the patient prefers lies in the next chunk and must still rank first.
    shift(clinic["tech"], clinic["site"], local(2030, 3, 6, 8), local(2030, 3, 6, 17))
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 12), end=local(2030, 3, 9, 0),
                       now=now, preferences=Preferences(time_of_day="afternoon"), limit=3)
    assert starts(found) == ["Wed 12:00", "Wed 12:15", "Wed 12:30"]

def test_load_is_spread_across_equally_free_staff(clinic, now):
    other = factories.staff(clinic["site"], role=StaffMember.Role.RADIOLOGY_TECH)
    second_room = factories.room(clinic["site"], kind=clinic["room"].kind, name="MRI 2")
    from .conftest import open_weekdays

    open_weekdays(second_room.resource)
    for member in (clinic["tech"], other):
        shift(member, clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 17))
    appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"], site=clinic["site"],
                     start=local(2030, 3, 4, 16), resources=[clinic["tech"].resource], actor=system_user())
    first = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now)[0]
    assert first.staff_resource_id == other.resource_id


def test_a_slot_token_books_exactly_that_bundle_and_cannot_be_forged(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    slot = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now)[0]
    ref = decode_slot(slot.token)
    assert ref.start == slot.start and sorted(ref.resource_ids) == sorted(slot.resource_ids)
    appointment = slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=system_user())
    assert sorted(appointment.booking.resources.values_list("resource_id", flat=True)) == sorted(slot.resource_ids)
    from healthops.errors import Conflict, DomainError

    with pytest.raises(Conflict):
        slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=system_user())
    with pytest.raises(DomainError, match="not valid"):
        slot_book(token=slot.token[:-3] + "abc", patient=factories.patient(clinic["site"]), actor=system_user())


def test_token_for_a_time_outside_the_shift_is_refused(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    slot = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now)[0]
    from staffing.models import Shift

    Shift.objects.all().delete()
    from healthops.errors import Conflict

    with pytest.raises(Conflict, match="no longer available"):
        slot_book(token=slot.token, patient=factories.patient(clinic["site"]), actor=system_user())


def test_third_next_available(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 9, 30))
    shift(clinic["tech"], clinic["site"], local(2030, 3, 6, 8), local(2030, 3, 6, 9))
    # Monday 08:00, 08:15, 08:30 are the first three.
    days = third_next_available(service_type=clinic["service"], site=clinic["site"], now=now)
    assert days == round((local(2030, 3, 4, 8, 30) - now).total_seconds() / 86400, 1)
    assert third_next_available(service_type=clinic["service"], site=factories.site(), now=now) is None


def test_windows_running_to_midnight_join_the_next_day(clinic):
    from datetime import time as t

    resource = clinic["room"].resource
    WeeklyAvailability.objects.filter(resource=resource).delete()
    WeeklyAvailability.objects.create(resource=resource, weekday=0, start_time=t(20), end_time=t(23, 59, 59))
    WeeklyAvailability.objects.create(resource=resource, weekday=1, start_time=t(0), end_time=t(7))
    rows = list(WeeklyAvailability.objects.filter(resource=resource))
    assert expand_weekly(rows, CHI, local(2030, 3, 4, 0), local(2030, 3, 6, 0)) == [
        (local(2030, 3, 4, 20), local(2030, 3, 5, 7))]
