"""The waitlist: when a slot frees, the best-matching waiting patient is offered it, one patient at a time.

An offer holds the slot with a `proposed` appointment until it is accepted (booked), declined or expires; a declined
or expired offer releases the slot, which offers it to the next patient.
"""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from healthops.errors import Conflict, DomainError, InvalidTransition
from healthops.events import emit, subscribe
from healthops.models import Event, Patient, Resource, Site

from .models import Appointment, BookedResource, ServiceType, WaitlistEntry, WaitlistOffer
from .services import appointment_book, appointment_transition
from .slots import TIME_OF_DAY

S = Appointment.Status
W = WaitlistEntry.Status


@transaction.atomic
def waitlist_add(
    *, patient: Patient, service_type: ServiceType, actor, sites: list[Site] | None = None,
    weekdays: list[int] | None = None, time_of_day: str = "any", earliest: date | None = None,
    latest: date | None = None, priority: int = 0, current_appointment: Appointment | None = None,
) -> WaitlistEntry:
    weekdays = sorted(set(weekdays or []))
    if any(d not in range(7) for d in weekdays):
        raise DomainError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
    if time_of_day not in WaitlistEntry.TimeOfDay.values:
        raise DomainError("Time of day must be any, morning, afternoon or evening.")
    if earliest and latest and latest < earliest:
        raise DomainError("The latest date is before the earliest date.")
    if WaitlistEntry.objects.filter(patient=patient, service_type=service_type, status__in=[W.WAITING, W.OFFERED]).exists():
        raise DomainError("This patient is already on the waitlist for this service.", code="duplicate")
    if current_appointment and current_appointment.patient_id != patient.pk:
        raise DomainError("The current appointment belongs to another patient.")
    entry = WaitlistEntry.objects.create(
        patient=patient, service_type=service_type, weekdays=weekdays, time_of_day=time_of_day, earliest=earliest,
        latest=latest, priority=priority, current_appointment=current_appointment, created_at=timezone.now(),
    )
    entry.preferred_sites.set(sites or [])
    emit("waitlist.added", subject=f"waitlist/{entry.pk}", source="scheduling", actor=actor,
         data={"waitlist_entry_id": entry.pk, "patient_id": patient.pk, "service_type": service_type.code,
               "priority": priority})
    return entry


@transaction.atomic
def waitlist_remove(*, entry: WaitlistEntry, actor) -> WaitlistEntry:
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status not in {W.WAITING, W.OFFERED}:
        raise InvalidTransition("This waitlist entry is already closed.")
    for offer in entry.offers.filter(status=WaitlistOffer.Status.OPEN):
        _close_offer(offer, WaitlistOffer.Status.DECLINED, actor=actor, event="waitlist.offer-declined")
    entry.status = W.REMOVED
    entry.save(update_fields=["status"])
    emit("waitlist.removed", subject=f"waitlist/{entry.pk}", source="scheduling", actor=actor,
         data={"waitlist_entry_id": entry.pk})
    return entry


def _fits(entry: WaitlistEntry, appointment_start: datetime, site: Site) -> bool:
    local = appointment_start.astimezone(site.tz)
    site_ids = {s.pk for s in entry.preferred_sites.all()}
    if site_ids and site.pk not in site_ids:
        return False
    if entry.weekdays and local.weekday() not in entry.weekdays:
        return False
    if entry.time_of_day in TIME_OF_DAY:
        low, high = TIME_OF_DAY[entry.time_of_day]
        if not low <= local.hour < high:
            return False
    if entry.earliest and local.date() < entry.earliest:
        return False
    if entry.latest and local.date() > entry.latest:
        return False
    current = entry.current_appointment
    return not (current and current.status in Appointment.HOLDING and current.start <= appointment_start)


def best_entry_for(*, service_type: ServiceType, site: Site, start: datetime, exclude: set[int]) -> WaitlistEntry | None:
    waiting = (
        WaitlistEntry.objects.filter(service_type=service_type, status=W.WAITING)
        .exclude(pk__in=exclude)
        .select_related("current_appointment")
        .prefetch_related("preferred_sites")
        .order_by("-priority", "created_at", "pk")
    )
    return next((e for e in waiting if _fits(e, start, site)), None)


def offer_freed_slot(*, appointment: Appointment, actor) -> WaitlistOffer | None:
    """Offer the time `appointment` held (now released) to the best-matching waiting patient, if any."""
    service_type, site = appointment.service_type, appointment.site
    if appointment.start < timezone.now() + timedelta(hours=service_type.min_notice_hours):
        return None  # too late to fill
    # Patients already offered this very slot (declined or let it expire) are not asked again.
    asked = set(WaitlistOffer.objects.filter(
        appointment__service_type=service_type, appointment__site=site, appointment__start=appointment.start,
    ).values_list("entry_id", flat=True))
    entry = best_entry_for(service_type=service_type, site=site, start=appointment.start, exclude=asked)
    if entry is None:
        return None
    booking = appointment.booking
    try:
        if booking is not None and booking.active and service_type.capacity > 1:
            held = appointment_book(patient=entry.patient, service_type=service_type, site=site, start=booking.start,
                                    actor=actor, status=S.PROPOSED, join_booking=booking)
        else:
            resource_ids = BookedResource.objects.filter(booking=booking).values_list("resource_id", flat=True)
            held = appointment_book(patient=entry.patient, service_type=service_type, site=site,
                                    start=appointment.start, end=appointment.end, actor=actor, status=S.PROPOSED,
                                    resources=list(Resource.objects.filter(pk__in=list(resource_ids))))
    except Conflict:
        return None  # someone booked the time first: nothing to offer
    now = timezone.now()
    offer = WaitlistOffer.objects.create(entry=entry, appointment=held, offered_at=now,
                                         expires_at=now + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES))
    entry.status = W.OFFERED
    entry.save(update_fields=["status"])
    emit("waitlist.offer-made", subject=f"waitlist/{entry.pk}", source="scheduling", actor=actor,
         data={"waitlist_entry_id": entry.pk, "offer_id": offer.pk, "appointment_id": held.pk,
               "freed_appointment_id": appointment.pk, "expires_at": offer.expires_at.isoformat()})
    return offer


@subscribe("appointment.cancelled")
@subscribe("appointment.noshow")
@subscribe("appointment.rescheduled")
def _on_slot_freed(event: Event) -> None:
    appointment = Appointment.objects.select_related("service_type", "site", "booking").get(
        pk=event.data["appointment_id"])
    offer_freed_slot(appointment=appointment, actor=event.actor)


@transaction.atomic
def offer_accept(*, offer: WaitlistOffer, actor) -> Appointment:
    offer = WaitlistOffer.objects.select_for_update().select_related("entry", "appointment").get(pk=offer.pk)
    if offer.status != WaitlistOffer.Status.OPEN:
        raise InvalidTransition(f"This offer is {offer.get_status_display().lower()}; it can no longer be accepted.")
    if offer.expires_at <= timezone.now():
        raise InvalidTransition("This offer has expired; the slot has gone to the next patient.")
    appointment = appointment_transition(appointment=offer.appointment, to_status=S.BOOKED, actor=actor)
    offer.status, offer.answered_at = WaitlistOffer.Status.ACCEPTED, timezone.now()
    offer.save(update_fields=["status", "answered_at"])
    entry = offer.entry
    entry.status = W.BOOKED
    entry.save(update_fields=["status"])
    emit("waitlist.offer-accepted", subject=f"waitlist/{entry.pk}", source="scheduling", actor=actor,
         data={"waitlist_entry_id": entry.pk, "offer_id": offer.pk, "appointment_id": appointment.pk})
    current = entry.current_appointment
    if current and current.status in {S.BOOKED, S.PENDING, S.PROPOSED}:
        # The later appointment is given up; releasing it offers that slot to the next patient in turn.
        appointment_transition(appointment=current, to_status=S.CANCELLED, reason="patient", actor=actor,
                               text="Moved to an earlier slot from the waitlist")
    return appointment


@transaction.atomic
def offer_decline(*, offer: WaitlistOffer, actor) -> WaitlistOffer:
    offer = WaitlistOffer.objects.select_for_update().select_related("entry", "appointment").get(pk=offer.pk)
    if offer.status != WaitlistOffer.Status.OPEN:
        raise InvalidTransition(f"This offer is already {offer.get_status_display().lower()}.")
    return _close_offer(offer, WaitlistOffer.Status.DECLINED, actor=actor, event="waitlist.offer-declined")


def _close_offer(offer: WaitlistOffer, status: str, *, actor, event: str) -> WaitlistOffer:
    offer.status, offer.answered_at = status, timezone.now()
    offer.save(update_fields=["status", "answered_at"])
    entry = offer.entry
    if entry.status == W.OFFERED:
        entry.status = W.WAITING
        entry.save(update_fields=["status"])
    emit(event, subject=f"waitlist/{entry.pk}", source="scheduling", actor=actor,
         data={"waitlist_entry_id": entry.pk, "offer_id": offer.pk, "appointment_id": offer.appointment_id})
    # Releasing the held slot offers it to the next waiting patient (see _on_slot_freed).
    appointment_transition(appointment=offer.appointment, to_status=S.CANCELLED, reason="patient", actor=actor,
                           text=f"Waitlist offer {offer.get_status_display().lower()}")
    return offer


def expire_offers(*, now: datetime | None = None, actor=None) -> int:
    """Close every open offer past its time and pass each slot on. Runs every minute on the worker; idempotent."""
    from healthops.audit import acting_as, system_user

    now = now or timezone.now()
    actor = actor or system_user()
    expired = 0
    due = list(WaitlistOffer.objects.filter(status=WaitlistOffer.Status.OPEN, expires_at__lte=now)
               .values_list("pk", flat=True))
    with acting_as(actor):
        for pk in due:
            with transaction.atomic():
                # Lock and re-check: the patient may accept in the same second, and the job may run twice.
                offer = WaitlistOffer.objects.select_for_update().select_related("entry", "appointment").get(pk=pk)
                if offer.status != WaitlistOffer.Status.OPEN:
                    continue
                _close_offer(offer, WaitlistOffer.Status.EXPIRED, actor=actor, event="waitlist.offer-expired")
                expired += 1
    return expired
