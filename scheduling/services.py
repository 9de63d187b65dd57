"""Booking and the appointment lifecycle. Every resource of a booking is held in one transaction or none."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from healthops.errors import Conflict, DomainError, InvalidTransition
from healthops.events import emit
from healthops.models import Patient, Resource, Site

from .models import Appointment, BookedResource, Booking, ServiceType

S = Appointment.Status

# FHIR Appointment.status transitions we allow, and the event each one emits.
TRANSITIONS: dict[str, dict[str, str]] = {
    S.PROPOSED: {S.PENDING: "appointment.pending", S.BOOKED: "appointment.confirmed", S.CANCELLED: "appointment.cancelled"},
    S.PENDING: {S.BOOKED: "appointment.confirmed", S.CANCELLED: "appointment.cancelled"},
    S.BOOKED: {S.CHECKED_IN: "appointment.checkedin", S.ARRIVED: "appointment.arrived",
               S.CANCELLED: "appointment.cancelled", S.NOSHOW: "appointment.noshow",
               S.ENTERED_IN_ERROR: "appointment.enteredinerror"},
    S.CHECKED_IN: {S.ARRIVED: "appointment.arrived", S.FULFILLED: "appointment.fulfilled",
                   S.CANCELLED: "appointment.cancelled"},
    S.ARRIVED: {S.FULFILLED: "appointment.fulfilled", S.CANCELLED: "appointment.cancelled"},
    S.WAITLIST: {S.CANCELLED: "appointment.cancelled"},
}
RELEASING = {S.CANCELLED, S.NOSHOW, S.ENTERED_IN_ERROR}


def _subject(appointment: Appointment) -> str:
    return f"appointment/{appointment.pk}"


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    service_type: ServiceType,
    site: Site,
    start: datetime,
    resources: list[Resource],
    actor,
    end: datetime | None = None,
    status: str = S.BOOKED,
    time=None,
) -> Appointment:
    """Hold every resource for [start, end) and create the appointment. A resource already held in an overlapping
    time raises Conflict and leaves nothing behind (PostgreSQL enforces it with an exclusion constraint)."""
    if start.tzinfo is None:
        raise DomainError("Appointment times must include a time zone.")
    end = end or start + timedelta(minutes=service_type.duration_minutes)
    if end <= start:
        raise DomainError("An appointment must end after it starts.")
    if status not in {S.BOOKED, S.PENDING, S.PROPOSED}:
        raise DomainError(f"A new appointment cannot start as {status!r}.")
    if not resources:
        raise DomainError("A booking needs at least one resource (staff member, room or equipment).")
    if len({r.pk for r in resources}) != len(resources):
        raise DomainError("The same resource is listed twice in one booking.")
    try:
        # A savepoint, so a refused insert leaves the caller's transaction usable.
        with transaction.atomic():
            booking = Booking.objects.create(service_type=service_type, site=site, start=start, end=end)
            for resource in resources:
                held = BookedResource(booking=booking, resource=resource, start=start, end=end)
                held.validate_constraints()  # SQLite: the Python fallback; PostgreSQL: re-checked by the database
                held.save()
    except (IntegrityError, ValidationError) as exc:
        raise Conflict(
            "One of the chosen resources is already booked at that time; pick another slot.", code="slot-taken"
        ) from exc
    appointment = Appointment.objects.create(
        patient=patient, service_type=service_type, site=site, booking=booking, start=start, end=end, status=status
    )
    emit("appointment.booked", subject=_subject(appointment), source="scheduling", actor=actor, time=time,
         data={"appointment_id": appointment.pk, "patient_id": patient.pk, "service_type": service_type.code,
               "site": site.code, "start": start.isoformat(), "end": end.isoformat(), "status": status,
               "resources": [r.pk for r in resources]})
    return appointment


@transaction.atomic
def appointment_transition(
    *, appointment: Appointment, to_status: str, actor, reason: str = "", text: str = "", time=None
) -> Appointment:
    """Move an appointment along its FHIR lifecycle; refuse moves that make no sense, saying why."""
    # Lock the row: two people checking in and cancelling at once must not both win.
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    allowed = TRANSITIONS.get(appointment.status, {})
    if to_status not in allowed:
        current = appointment.get_status_display().lower()
        options = ", ".join(S(s).label.lower() for s in allowed) or "nothing (it is final)"
        raise InvalidTransition(f"A {current} appointment cannot become {to_status}; it can become: {options}.")
    if to_status == S.CANCELLED:
        if reason not in Appointment.CancelReason.values:
            raise DomainError("Cancelling needs a reason: patient, provider, facility or payer.")
        appointment.cancel_reason, appointment.cancel_text = reason, text.strip()[:300]
    from_status = appointment.status
    appointment.status = to_status
    appointment.save()
    if to_status in RELEASING and appointment.booking_id:
        _release_if_unused(appointment.booking_id)
    data = {"appointment_id": appointment.pk, "from": from_status, "to": to_status}
    if reason:
        data["reason"] = reason
    emit(allowed[to_status], subject=_subject(appointment), source="scheduling", actor=actor, time=time, data=data)
    return appointment


def _release_if_unused(booking_id: int) -> None:
    """Free a booking's resources once no appointment holds it any more (group slots keep theirs)."""
    still_held = Appointment.objects.filter(booking_id=booking_id, status__in=Appointment.HOLDING).exists()
    if not still_held:
        Booking.objects.filter(pk=booking_id).update(active=False)
        BookedResource.objects.filter(booking_id=booking_id).update(active=False)
