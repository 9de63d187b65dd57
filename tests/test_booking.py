"""Booking holds every resource or none; PostgreSQL's exclusion constraint makes double booking impossible."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from healthops.audit import system_user
from healthops.errors import Conflict, DomainError, InvalidTransition
from healthops.models import Event
from scheduling.models import Appointment, BookedResource, Booking
from scheduling.services import appointment_book, appointment_transition

from . import factories

pytestmark = pytest.mark.django_db
NINE = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def setup(north):
    return {"site": north, "service": factories.service_type(duration_minutes=30), "room": factories.room(north),
            "doctor": factories.staff(north), "other_doctor": factories.staff(north)}


def book(setup, start, resources=None, patient=None):
    return appointment_book(
        patient=patient or factories.patient(setup["site"]), service_type=setup["service"], site=setup["site"],
        start=start, resources=resources or [setup["doctor"].resource, setup["room"].resource], actor=system_user(),
    )


def test_booking_holds_each_resource_and_emits(setup):
    appointment = book(setup, NINE)
    assert appointment.end == NINE + timedelta(minutes=30)
    assert BookedResource.objects.filter(booking=appointment.booking, active=True).count() == 2
    assert Event.objects.filter(subject=f"appointment/{appointment.pk}", type__contains="appointment.booked").exists()


def test_overlapping_booking_is_a_domain_conflict_and_leaves_nothing(setup):
    book(setup, NINE)
    counts = (Booking.objects.count(), BookedResource.objects.count(), Appointment.objects.count(), Event.objects.count())
    # The room is free but the doctor is not: nothing of the second booking may remain.
    with pytest.raises(Conflict) as refused:
        book(setup, NINE + timedelta(minutes=15), [setup["other_doctor"].resource, setup["doctor"].resource])
    assert refused.value.status == 409
    assert "already booked" in refused.value.message
    assert counts == (Booking.objects.count(), BookedResource.objects.count(), Appointment.objects.count(),
                      Event.objects.count())


def test_adjacent_bookings_are_fine(setup):
    book(setup, NINE)
    book(setup, NINE + timedelta(minutes=30))
    assert Appointment.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints exist only on PostgreSQL")
def test_database_refuses_overlap_even_when_python_checks_are_bypassed(setup):
    first = book(setup, NINE)
    other = Booking.objects.create(service_type=setup["service"], site=setup["site"], start=NINE, end=NINE + timedelta(hours=1))
    with pytest.raises(IntegrityError, match="bookedresource_no_overlap"):
        with transaction.atomic():
            BookedResource.objects.create(booking=other, resource=setup["doctor"].resource,
                                          start=NINE + timedelta(minutes=10), end=NINE + timedelta(minutes=40))
    assert BookedResource.objects.filter(resource=setup["doctor"].resource).count() == 1
    assert first.booking.resources.count() == 2


def test_cancel_releases_resources_so_the_slot_can_be_booked_again(setup):
    first = book(setup, NINE)
    appointment_transition(appointment=first, to_status="cancelled", reason="patient", text="moved away",
                           actor=system_user())
    assert not BookedResource.objects.filter(booking=first.booking, active=True).exists()
    second = book(setup, NINE)
    assert second.status == "booked"


def test_invalid_transition_says_why(setup):
    appointment = book(setup, NINE)
    with pytest.raises(InvalidTransition, match="cannot become fulfilled"):
        appointment_transition(appointment=appointment, to_status="fulfilled", actor=system_user())
    with pytest.raises(DomainError, match="needs a reason"):
        appointment_transition(appointment=appointment, to_status="cancelled", actor=system_user())
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_lifecycle_emits_an_event_per_step(setup):
    appointment = book(setup, NINE)
    for status in ("checked-in", "arrived", "fulfilled"):
        appointment = appointment_transition(appointment=appointment, to_status=status, actor=system_user())
    types = list(Event.objects.filter(subject=f"appointment/{appointment.pk}").values_list("type", flat=True))
    assert [t.split(".")[-2] for t in types] == ["booked", "checkedin", "arrived", "fulfilled"]


def test_naive_times_are_refused(setup):
    with pytest.raises(DomainError, match="time zone"):
        book(setup, datetime(2030, 3, 4, 9, 0))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_slot_yield_exactly_one_winner(north):
    import threading

    from django.db import connections

    setup = {"site": north, "service": factories.service_type(duration_minutes=30), "room": factories.room(north),
             "doctor": factories.staff(north)}
    patients = [factories.patient(north) for _ in range(6)]
    barrier, outcomes = threading.Barrier(len(patients)), []

    def attempt(patient):
        try:
            barrier.wait()
            book(setup, NINE, patient=patient)
            outcomes.append("booked")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked"] + ["conflict"] * (len(patients) - 1)
    assert BookedResource.objects.filter(resource=setup["doctor"].resource, active=True).count() == 1
    assert Appointment.objects.count() == 1
