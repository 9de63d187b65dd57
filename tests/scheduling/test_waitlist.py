"""Waitlist: a freed slot is offered to the best-matching patient, expires to the next one, and books on accept."""

from datetime import date, timedelta

import pytest
import time_machine

from healthops.audit import system_user
from healthops.errors import DomainError, InvalidTransition
from healthops.models import Event
from scheduling.models import Appointment, WaitlistEntry, WaitlistOffer
from scheduling.services import appointment_book, appointment_transition
from scheduling.waitlist import expire_offers, offer_accept, offer_decline, waitlist_add

from .. import factories
from .conftest import local

pytestmark = pytest.mark.django_db
S = Appointment.Status
NOW = local(2030, 3, 1, 9)  # the Friday before the slot


@pytest.fixture
def booked(clinic):
    with time_machine.travel(NOW, tick=False):
        return appointment_book(patient=factories.patient(clinic["site"]), service_type=clinic["service"],
                                site=clinic["site"], start=local(2030, 3, 4, 9),
                                resources=[clinic["room"].resource, clinic["tech"].resource], actor=system_user())


def add(clinic, **kw):
    return waitlist_add(patient=kw.pop("patient", None) or factories.patient(clinic["site"]),
                        service_type=clinic["service"], actor=system_user(), **kw)


def cancel(appointment):
    return appointment_transition(appointment=appointment, to_status=S.CANCELLED, reason="patient", actor=system_user())


def event_types():
    return [t.split(".")[-2] for t in Event.objects.filter(subject__startswith="waitlist/").values_list("type", flat=True)]


@time_machine.travel(NOW, tick=False)
def test_freed_slot_goes_to_the_highest_priority_fitting_patient(clinic, booked):
    add(clinic, time_of_day="afternoon", priority=9)  # does not fit a 09:00 slot
    low = add(clinic, priority=1)
    high = add(clinic, priority=5, weekdays=[0])
    add(clinic, priority=7, latest=date(2030, 3, 3))  # must be seen before the slot
    cancel(booked)
    offer = WaitlistOffer.objects.get()
    assert offer.entry == high and offer.appointment.status == S.PROPOSED
    assert offer.appointment.start == booked.start
    assert offer.expires_at == NOW + timedelta(minutes=120)
    high.refresh_from_db(), low.refresh_from_db()
    assert (high.status, low.status) == (WaitlistEntry.Status.OFFERED, WaitlistEntry.Status.WAITING)
    assert "offer-made" in event_types()


def test_expired_offer_passes_to_the_next_patient(clinic, booked):
    with time_machine.travel(NOW, tick=False):
        first = add(clinic, priority=5)
        second = add(clinic, priority=1)
        cancel(booked)
    with time_machine.travel(NOW + timedelta(minutes=119), tick=False):
        assert expire_offers() == 0
    with time_machine.travel(NOW + timedelta(minutes=121), tick=False):
        assert expire_offers() == 1
        assert expire_offers() == 0  # idempotent: the job may run twice
    offers = WaitlistOffer.objects.order_by("offered_at", "pk")
    assert [(o.entry, o.status) for o in offers] == [(first, "expired"), (second, "open")]
    first.refresh_from_db()
    assert first.status == WaitlistEntry.Status.WAITING  # still waiting for another slot
    assert event_types().count("offer-expired") == 1


def test_accepting_books_and_gives_up_the_later_appointment(clinic, booked):
    with time_machine.travel(NOW, tick=False):
        patient = factories.patient(clinic["site"])
        later = appointment_book(patient=patient, service_type=clinic["service"], site=clinic["site"],
                                 start=local(2030, 3, 20, 9), resources=[clinic["room"].resource], actor=system_user())
        entry = add(clinic, patient=patient, current_appointment=later)
        cancel(booked)
        offer = WaitlistOffer.objects.get(entry=entry)
        appointment = offer_accept(offer=offer, actor=system_user())
    assert appointment.status == S.BOOKED and appointment.start == booked.start
    later.refresh_from_db(), entry.refresh_from_db()
    assert later.status == S.CANCELLED and entry.status == WaitlistEntry.Status.BOOKED
    assert "offer-accepted" in event_types()


def test_patient_is_not_offered_a_slot_later_than_the_one_they_hold(clinic, booked):
    with time_machine.travel(NOW, tick=False):
        patient = factories.patient(clinic["site"])
        sooner = appointment_book(patient=patient, service_type=clinic["service"], site=clinic["site"],
                                  start=local(2030, 3, 2, 9), resources=[clinic["room"].resource], actor=system_user())
        add(clinic, patient=patient, current_appointment=sooner)
        cancel(booked)
    assert not WaitlistOffer.objects.exists()


def test_accepting_an_expired_offer_is_refused(clinic, booked):
    with time_machine.travel(NOW, tick=False):
        add(clinic)
        cancel(booked)
        offer = WaitlistOffer.objects.get()
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        with pytest.raises(InvalidTransition, match="expired"):
            offer_accept(offer=offer, actor=system_user())


def test_declining_offers_the_slot_to_the_next_and_not_again_to_the_same(clinic, booked):
    with time_machine.travel(NOW, tick=False):
        first, second = add(clinic, priority=2), add(clinic, priority=1)
        cancel(booked)
        offer_decline(offer=WaitlistOffer.objects.get(entry=first), actor=system_user())
        open_offer = WaitlistOffer.objects.get(status="open")
        assert open_offer.entry == second
        offer_decline(offer=open_offer, actor=system_user())
    assert not WaitlistOffer.objects.filter(status="open").exists()
    assert not Appointment.objects.filter(status=S.PROPOSED).exists()


def test_bad_waitlist_input_is_refused(clinic):
    with pytest.raises(DomainError, match="Weekdays"):
        add(clinic, weekdays=[7])
    with pytest.raises(DomainError, match="before the earliest"):
        add(clinic, earliest=date(2030, 3, 5), latest=date(2030, 3, 4))
    patient = factories.patient(clinic["site"])
    add(clinic, patient=patient)
    with pytest.raises(DomainError, match="already on the waitlist"):
        add(clinic, patient=patient)
