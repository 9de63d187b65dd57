"""Booking and the appointment lifecycle. Every resource of a booking is held in one transaction or none."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction

from healthops.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from healthops.events import emit
from healthops.models import Patient, Resource, Site
from healthops.overrides import override_record

from .models import Appointment, AvailabilityException, BookedResource, Booking, ServiceType

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
    actor,
    resources: list[Resource] | None = None,
    resource_ids: list[int] | None = None,
    end: datetime | None = None,
    status: str = S.BOOKED,
    join_booking: Booking | None = None,
    override: dict | None = None,
    rescheduled_from: Appointment | None = None,
    time=None,
) -> Appointment:
    """Hold every resource for [start, end) and create the appointment, or take a place in an existing group session
    (`join_booking`). A resource already held in an overlapping time raises Conflict and leaves nothing behind
    (PostgreSQL enforces it with an exclusion constraint). A full group session needs an `override`
    ({"reason_code", "justification"}), which is recorded through healthops.overrides."""
    if start.tzinfo is None:
        raise DomainError("Appointment times must include a time zone.")
    if status not in {S.BOOKED, S.PENDING, S.PROPOSED}:
        raise DomainError(f"A new appointment cannot start as {status!r}.")
    if join_booking is not None:
        booking = _take_place_in(join_booking, service_type=service_type, actor=actor, override=override,
                                 patient=patient)
        start, end = booking.start, booking.end
        held_ids = list(booking.resources.filter(active=True).values_list("resource_id", flat=True))
    else:
        end = end or start + timedelta(minutes=service_type.duration_minutes)
        if end <= start:
            raise DomainError("An appointment must end after it starts.")
        held_ids = list(resource_ids) if resource_ids is not None else [r.pk for r in resources or []]
        if not held_ids:
            raise DomainError("A booking needs at least one resource (staff member, room or equipment).")
        if len(set(held_ids)) != len(held_ids):
            raise DomainError("The same resource is listed twice in one booking.")
        booking = _hold(held_ids, service_type=service_type, site=site, start=start, end=end)
    appointment = Appointment.objects.create(
        patient=patient, service_type=service_type, site=site, booking=booking, start=start, end=end, status=status,
        rescheduled_from=rescheduled_from,
    )
    emit("appointment.booked", subject=_subject(appointment), source="scheduling", actor=actor, time=time,
         data={"appointment_id": appointment.pk, "patient_id": patient.pk, "service_type": service_type.code,
               "site": site.code, "start": start.isoformat(), "end": end.isoformat(), "status": status,
               "resources": held_ids, "booking_id": booking.pk})
    return appointment


def _hold(resource_ids: list[int], *, service_type: ServiceType, site: Site, start: datetime,
          end: datetime) -> Booking:
    try:
        # A savepoint, so a refused insert leaves the caller's transaction usable.
        with transaction.atomic():
            booking = Booking.objects.create(service_type=service_type, site=site, start=start, end=end)
            # One INSERT, rows in one lock order for every booking. PostgreSQL's exclusion constraint refuses an
            # overlap (waiting for a racing booking to commit or roll back first); other databases have no such
            # constraint and check in Python, which a race can slip through.
            held = [BookedResource(booking=booking, resource_id=rid, start=start, end=end)
                    for rid in sorted(resource_ids)]
            if connection.vendor != "postgresql":
                for row in held:
                    row.validate_constraints()
            BookedResource.objects.bulk_create(held)
    except (IntegrityError, ValidationError) as exc:
        raise Conflict(
            "One of the chosen resources is already booked at that time; pick another slot.", code="slot-taken"
        ) from exc
    except OperationalError as exc:
        # Two bookings racing for the same resources: PostgreSQL's exclusion constraint may resolve the race by
        # aborting one of them as a deadlock (SQLSTATE 40P01). That one lost the slot.
        if getattr(exc.__cause__, "sqlstate", None) != "40P01":
            raise
        raise Conflict("Someone booked one of these resources at the same moment; pick another slot.",
                       code="slot-taken") from exc
    return booking


def _take_place_in(booking: Booking, *, service_type: ServiceType, actor, override: dict | None, patient) -> Booking:
    # Lock the session: two coordinators filling the last place at once must not both get it.
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if not booking.active:
        raise Conflict("That session is no longer running; pick another slot.", code="slot-taken")
    if booking.service_type_id != service_type.pk:
        raise DomainError("That session is for another service.")
    taken = booking.appointments.filter(status__in=Appointment.HOLDING).count()
    if taken >= service_type.capacity:
        if not override:
            raise Conflict(f"The session is full ({taken} of {service_type.capacity} places); booking beyond "
                           "capacity needs an override with a reason.", code="capacity-full")
        override_record(rule="booking.capacity", subject=f"booking/{booking.pk}", actor=actor,
                        reason_code=override.get("reason_code", ""), justification=override.get("justification", ""),
                        data={"capacity": service_type.capacity, "taken": taken, "patient_id": patient.pk})
    return booking


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


def bundle_problem(*, service_type: ServiceType, site: Site, start: datetime, end: datetime,
                   resource_ids: list[int]) -> str | None:
    """Why this bundle cannot be booked now (a shift ended, a room closed, someone took it), or None."""
    from .availability import free_time  # the engine imports this module's models; keep imports one way

    staff = dict(Resource.objects.filter(pk__in=resource_ids, kind=Resource.Kind.STAFF)
                 .values_list("pk", "staff_member__pk"))
    others = [rid for rid in resource_ids if rid not in staff]
    free = free_time(site_tz=site.tz, site_id=site.pk, staff=staff, template_resources=others, start=start, end=end)
    for rid in resource_ids:
        if not free.is_free(rid, start, end):
            name = Resource.objects.filter(pk=rid).values_list("name", flat=True).first() or f"resource {rid}"
            return f"{name} is no longer available at that time."
    return None


@transaction.atomic
def slot_book(*, token: str, patient: Patient, actor, status: str = S.BOOKED, override: dict | None = None,
              rescheduled_from: Appointment | None = None) -> Appointment:
    """Book a slot found by scheduling.slots.find_slots (its opaque token), re-checking it is still free."""
    from .slots import decode_slot

    ref = decode_slot(token)
    service_type = ServiceType.objects.get(pk=ref.service_type_id)
    site = Site.objects.get(pk=ref.site_id)
    if not ref.booking_id:
        problem = bundle_problem(service_type=service_type, site=site, start=ref.start, end=ref.end,
                                 resource_ids=ref.resource_ids)
        if problem:
            raise Conflict(f"{problem} Search again for a free slot.", code="slot-taken")
        _check_credentials(service_type=service_type, site=site, start=ref.start, resource_ids=ref.resource_ids)
    return _book_bundle(service_type=service_type, site=site, start=ref.start, end=ref.end,
                        resource_ids=ref.resource_ids, booking_id=ref.booking_id, patient=patient, actor=actor,
                        status=status, override=override, rescheduled_from=rescheduled_from)


@transaction.atomic
def candidate_book(*, candidate, service_type: ServiceType, site: Site, patient: Patient, actor) -> Appointment:
    """Book a bundle that scheduling.slots.find_slots has just computed in the same job (the referral flow's automatic
    match): no token round trip, and no second read of the free time or the credentials the search has just checked.
    A booking made meanwhile is still refused, by the exclusion constraint (Conflict), and the day's rostered
    capacity is still checked; a person's booking from a token (slot_book) re-checks everything."""
    if candidate.service_type_id != service_type.pk or candidate.site_id != site.pk:
        raise DomainError("That slot is for another service or site.")
    return _book_bundle(service_type=service_type, site=site, start=candidate.start, end=candidate.end,
                        resource_ids=candidate.resource_ids, booking_id=candidate.booking_id, patient=patient,
                        actor=actor)


def _book_bundle(*, service_type: ServiceType, site: Site, start: datetime, end: datetime, resource_ids: list[int],
                 booking_id: int | None, patient: Patient, actor, status: str = S.BOOKED, override: dict | None = None,
                 rescheduled_from: Appointment | None = None) -> Appointment:
    """A place in an existing group session, or the bundle's resources held after the day's rostered capacity check."""
    if booking_id:
        return appointment_book(patient=patient, service_type=service_type, site=site, start=start, actor=actor,
                                status=status, join_booking=Booking(pk=booking_id), override=override,
                                rescheduled_from=rescheduled_from)
    _check_rostered_capacity(service_type=service_type, site=site, start=start, end=end, actor=actor,
                             override=override, patient=patient)
    return appointment_book(patient=patient, service_type=service_type, site=site, start=start, end=end,
                            resource_ids=resource_ids, actor=actor, status=status, rescheduled_from=rescheduled_from)


OUTSIDE_TEMPLATE_RULE = "booking.outside-template"


@transaction.atomic
def book_outside_template(*, patient: Patient, service_type: ServiceType, site: Site, start: datetime,
                          staff_resource: Resource, room_resource: Resource | None, actor,
                          override: dict | None) -> Appointment:
    """Book a time the availability templates or shifts do not offer (an evening clinic, a clinician staying late).
    Needs the permission and an override (reason code and justification), recorded and evented. What no override can
    lift: a resource already booked then (the exclusion constraint), a clinician on leave or without the credential,
    a resource that cannot deliver the service. A time the templates do offer is booked without an override."""
    from django.utils import timezone

    from staffing.models import TimeOff

    from .slots import site_plans

    if not actor.has_perm("scheduling.book_outside_template"):
        raise NotAllowed("Booking outside the schedule needs the 'book outside template' permission.")
    if start.tzinfo is None:
        raise DomainError("Appointment times must include a time zone.")
    if start <= timezone.now():
        raise DomainError("Pick a time in the future.")
    end = start + timedelta(minutes=service_type.duration_minutes)
    plan = next(iter(site_plans(service_type, [site.pk])), None)
    if plan is None:
        raise DomainError(f"{site.name} does not have the staff, room and equipment {service_type.name} needs.")
    if staff_resource.pk not in plan.staff:
        raise DomainError(f"{staff_resource.name} cannot deliver {service_type.name} at {site.name}.")
    resources = [staff_resource]
    if service_type.room_kind_id:
        if room_resource is None or room_resource.pk not in plan.rooms:
            raise DomainError(f"Choose a {service_type.room_kind.name.lower()} room at {site.name}.")
        resources.append(room_resource)
    member = plan.staff[staff_resource.pk]
    if TimeOff.objects.filter(staff=member, start__lt=end, end__gt=start).exists():
        raise Conflict(f"{staff_resource.name} is on leave then; no override books someone on leave.", code="time-off")
    if room_resource is not None and (closed := AvailabilityException.objects.filter(
            resource=room_resource, start__lt=end, end__gt=start).first()):
        raise Conflict(f"{room_resource.name} is closed then ({closed.get_kind_display().lower()}); "
                       "no override books a closed room.", code="closed")
    candidates = [rid for kind_ids in plan.equipment for rid in kind_ids]
    taken = set(BookedResource.objects.filter(active=True, start__lt=end, end__gt=start)
                .values_list("resource_id", flat=True))
    taken |= set(AvailabilityException.objects.filter(resource_id__in=candidates, start__lt=end, end__gt=start)
                 .values_list("resource_id", flat=True))  # equipment in maintenance counts as taken
    for kind_ids in plan.equipment:  # one free item of each required kind
        free = [rid for rid in kind_ids if rid not in taken]
        if not free:
            raise Conflict("All the equipment the service needs is in use then; pick another time.", code="slot-taken")
        resources.append(Resource.objects.get(pk=free[0]))
    ids = [r.pk for r in resources]
    if taken.intersection(ids):
        raise Conflict("The clinician or room is already booked then; pick another time.", code="slot-taken")
    _check_credentials(service_type=service_type, site=site, start=start, resource_ids=ids)
    outside = bundle_problem(service_type=service_type, site=site, start=start, end=end, resource_ids=ids)
    if outside:
        if not override:
            raise Conflict(f"{outside} Booking outside the schedule needs an override with a reason.",
                           code="outside-template")
        override_record(rule=OUTSIDE_TEMPLATE_RULE, subject=f"site/{site.code}", actor=actor,
                        reason_code=override.get("reason_code", ""), justification=override.get("justification", ""),
                        data={"service_type": service_type.code, "start": start.isoformat(), "patient_id": patient.pk,
                              "resources": ids, "why": outside})
    return appointment_book(patient=patient, service_type=service_type, site=site, start=start, end=end,
                            resources=resources, actor=actor)


@transaction.atomic
def appointment_reschedule(*, appointment: Appointment, token: str, actor, reason: str, text: str = "") -> Appointment:
    """Move an appointment to another slot: a new appointment linked to the old one; the old one's resources are
    released and it is counted as a reschedule (event `appointment.rescheduled`), not as a cancellation."""
    old = Appointment.objects.select_for_update().get(pk=appointment.pk)  # one reschedule of one appointment at a time
    if old.status not in {S.PROPOSED, S.PENDING, S.BOOKED}:
        raise InvalidTransition(f"A {old.get_status_display().lower()} appointment cannot be rescheduled.")
    if reason not in Appointment.CancelReason.values:
        raise DomainError("Rescheduling needs a reason: patient, provider, facility or payer.")
    if hasattr(old, "rescheduled_to"):
        raise InvalidTransition("This appointment was already rescheduled.")
    # Release first, so the new slot may reuse the same staff member or room at an overlapping time.
    old.status, old.cancel_reason, old.cancel_text = S.CANCELLED, reason, text.strip()[:300]
    old.save()
    if old.booking_id:
        _release_if_unused(old.booking_id)
    new = slot_book(token=token, patient=old.patient, actor=actor, status=S.BOOKED, rescheduled_from=old)
    if new.service_type_id != old.service_type_id:
        raise DomainError("A reschedule keeps the service; book a new appointment for a different service.")
    emit("appointment.rescheduled", subject=_subject(old), source="scheduling", actor=actor,
         data={"appointment_id": old.pk, "new_appointment_id": new.pk, "reason": reason,
               "from_start": old.start.isoformat(), "to_start": new.start.isoformat()})
    return new


def _check_rostered_capacity(*, service_type, site, start, end, actor, override, patient) -> None:
    """Booking beyond the day's rostered staff time for the role warns and needs an override with a reason."""
    from staffing.checks import booking_capacity_problem

    problem = booking_capacity_problem(site=site, service_type=service_type, start=start, end=end)
    if not problem:
        return
    if not override:
        raise Conflict(problem, code="staffing-capacity")
    override_record(rule="staffing.capacity", subject=f"site/{site.code}", actor=actor,
                    reason_code=override.get("reason_code", ""), justification=override.get("justification", ""),
                    data={"service_type": service_type.code, "start": start.isoformat(), "patient_id": patient.pk})


def _check_credentials(*, service_type, site, start, resource_ids) -> None:
    """The staff member must hold a valid credential for the service on the day (it may have lapsed since the search)."""
    from staffing.checks import credential_problem
    from staffing.models import StaffMember

    for member in StaffMember.objects.filter(resource_id__in=resource_ids).prefetch_related("credentials__kind"):
        if problem := credential_problem(staff_member=member, service_type=service_type,
                                         day=start.astimezone(site.tz).date()):
            raise Conflict(problem, code="credential")
