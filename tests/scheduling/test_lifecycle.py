"""Group capacity and overrides, rescheduling, and every lifecycle transition and refusal."""

from datetime import timedelta

import pytest

from healthops.audit import system_user
from healthops.errors import Conflict, DomainError, InvalidTransition
from healthops.models import Event, Override
from scheduling.models import Appointment, BookedResource
from scheduling.services import TRANSITIONS, appointment_book, appointment_reschedule, appointment_transition
from scheduling.slots import find_slots

from .. import factories
from .conftest import local, shift

pytestmark = pytest.mark.django_db
S = Appointment.Status


def types(subject):
    return [t.split(".")[-2] for t in Event.objects.filter(subject=subject).values_list("type", flat=True)]


@pytest.fixture
def group(clinic):
    service = clinic["service"]
    service.capacity = 2
    service.save()
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    first = appointment_book(patient=factories.patient(clinic["site"]), service_type=service, site=clinic["site"],
                             start=local(2030, 3, 4, 8), resources=[clinic["tech"].resource, clinic["room"].resource],
                             actor=system_user())
    return first.booking


def test_group_session_offers_its_open_places_then_fills(clinic, group, now):
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now,
                       limit=100)
    joinable = [c for c in found if c.booking_id == group.pk]
    assert len(joinable) == 1 and joinable[0].start == group.start
    second = appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                              site=clinic["site"], start=group.start, join_booking=group, actor=system_user())
    assert second.booking == group
    found = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now,
                       limit=100)
    assert not [c for c in found if c.booking_id == group.pk]


def test_beyond_capacity_needs_an_override_which_is_recorded(clinic, group, coordinator):
    appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"], site=clinic["site"],
                     start=group.start, join_booking=group, actor=system_user())
    with pytest.raises(Conflict, match="full"):
        appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                         site=clinic["site"], start=group.start, join_booking=group, actor=coordinator)
    with pytest.raises(DomainError, match="justification"):
        appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                         site=clinic["site"], start=group.start, join_booking=group, actor=coordinator,
                         override={"reason_code": "clinical-urgency", "justification": "no"})
    third = appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                             site=clinic["site"], start=group.start, join_booking=group, actor=coordinator,
                             override={"reason_code": "clinical-urgency", "justification": "Post-op patient, cannot wait"})
    assert third.booking == group
    override = Override.objects.get()
    assert override.rule == "booking.capacity" and override.actor == coordinator
    assert Event.objects.filter(type="org.healthops.override.recorded.v1", subject=f"booking/{group.pk}").exists()


@pytest.mark.parametrize("start_status", [S.PROPOSED, S.PENDING, S.BOOKED])
def test_every_transition_and_every_refusal(clinic, start_status):
    statuses = list(S.values)
    for hour, to_status in enumerate(statuses):
        appointment = appointment_book(
            patient=factories.patient(clinic["site"]), service_type=clinic["service"], site=clinic["site"],
            start=local(2030, 5, 1, 8) + timedelta(hours=hour), resources=[clinic["room"].resource],
            status=start_status, actor=system_user())
        allowed = TRANSITIONS[start_status]
        if to_status in allowed:
            done = appointment_transition(appointment=appointment, to_status=to_status, reason="provider",
                                          actor=system_user())
            assert done.status == to_status
        else:
            with pytest.raises(InvalidTransition, match=f"cannot become {to_status}"):
                appointment_transition(appointment=appointment, to_status=to_status, reason="provider",
                                       actor=system_user())


def test_final_states_refuse_everything(clinic):
    appointment = appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                                   site=clinic["site"], start=local(2030, 5, 2, 8), resources=[clinic["room"].resource],
                                   actor=system_user())
    appointment_transition(appointment=appointment, to_status=S.NOSHOW, actor=system_user())
    with pytest.raises(InvalidTransition, match="nothing \\(it is final\\)"):
        appointment_transition(appointment=appointment, to_status=S.ARRIVED, actor=system_user())
    assert not BookedResource.objects.filter(active=True).exists()  # a no-show releases the resources


def test_reschedule_links_new_to_old_releases_and_counts_as_reschedule(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    slots = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now)
    from scheduling.services import slot_book

    old = slot_book(token=slots[0].token, patient=factories.patient(clinic["site"]), actor=system_user())
    # The next 15-minute slot overlaps the old one: allowed, because the old one is released first.
    new = appointment_reschedule(appointment=old, token=slots[1].token, reason="patient", actor=system_user())
    old.refresh_from_db()
    assert new.rescheduled_from == old and old.status == S.CANCELLED and new.status == S.BOOKED
    assert not BookedResource.objects.filter(booking=old.booking, active=True).exists()
    assert types(f"appointment/{old.pk}") == ["booked", "rescheduled"]
    with pytest.raises(InvalidTransition):
        appointment_reschedule(appointment=old, token=slots[2].token, reason="patient", actor=system_user())


def test_failed_reschedule_keeps_the_old_appointment(clinic, now):
    shift(clinic["tech"], clinic["site"], local(2030, 3, 4, 8), local(2030, 3, 4, 12))
    slots = find_slots(service_type=clinic["service"], start=local(2030, 3, 4, 0), end=local(2030, 3, 5, 0), now=now,
                       limit=50)
    from scheduling.services import slot_book

    old = slot_book(token=slots[0].token, patient=factories.patient(clinic["site"]), actor=system_user())
    taken = slot_book(token=slots[-1].token, patient=factories.patient(clinic["site"]), actor=system_user())
    with pytest.raises(Conflict):
        appointment_reschedule(appointment=old, token=slots[-1].token, reason="patient", actor=system_user())
    old.refresh_from_db()
    assert old.status == S.BOOKED and BookedResource.objects.filter(booking=old.booking, active=True).count() == 3
    assert taken.status == S.BOOKED


def test_the_lifecycle_table_is_the_fhir_one():
    """Spelled out, so a slip in the table fails here rather than in a coordinator's hands."""
    assert {k: sorted(v) for k, v in TRANSITIONS.items()} == {
        "proposed": ["booked", "cancelled", "pending"],
        "pending": ["booked", "cancelled"],
        "booked": ["arrived", "cancelled", "checked-in", "entered-in-error", "noshow"],
        "checked-in": ["arrived", "cancelled", "fulfilled"],
        "arrived": ["cancelled", "fulfilled"],
        "waitlist": ["cancelled"],
    }
