"""Reads for scheduling pages, scoped to the user's sites."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from healthops.models import Patient, Resource, Site
from healthops.permissions import site_ids_for
from staffing.checks import booking_staff_problems

from .models import Appointment, ServiceType, WaitlistEntry, WaitlistOffer
from .services import TRANSITIONS
from .slots import TIME_OF_DAY, Candidate, Preferences, find_slots, site_plans

S = Appointment.Status


def appointments_visible_to(user) -> QuerySet[Appointment]:
    appointments = Appointment.objects.select_related("patient", "service_type", "site")
    site_ids = site_ids_for(user)
    return appointments if site_ids is None else appointments.filter(site_id__in=site_ids)


def appointment_list(*, user, filters: dict) -> QuerySet[Appointment]:
    appointments = appointments_visible_to(user)
    if status := filters.get("status"):
        appointments = appointments.filter(status=status)
    if site := filters.get("site"):
        appointments = appointments.filter(site=site)
    if service_type := filters.get("service_type"):
        appointments = appointments.filter(service_type=service_type)
    if day_from := filters.get("date_from"):
        appointments = appointments.filter(start__date__gte=day_from)
    if day_to := filters.get("date_to"):
        appointments = appointments.filter(start__date__lte=day_to)
    return appointments.prefetch_related("booking__resources__resource").order_by("start", "pk")


def appointment_detail(*, user, pk: int) -> Appointment:
    """One appointment with what its page shows; raises Appointment.DoesNotExist outside the user's sites."""
    return (appointments_visible_to(user)
            .select_related("rescheduled_from", "rescheduled_to", "waitlist_offer__entry")
            .prefetch_related("booking__resources__resource__staff_member").get(pk=pk))


# The lifecycle buttons of the appointment page: url slug -> (target status, button label).
APPOINTMENT_ACTIONS = {
    "confirm": (S.BOOKED, "Confirm"),
    "check-in": (S.CHECKED_IN, "Check in"),
    "arrived": (S.ARRIVED, "Arrived"),
    "fulfilled": (S.FULFILLED, "Fulfilled"),
    "no-show": (S.NOSHOW, "No-show"),
    "cancel": (S.CANCELLED, "Cancel"),
}
RESCHEDULABLE = {S.PROPOSED, S.PENDING, S.BOOKED}


def open_offer(appointment: Appointment) -> WaitlistOffer | None:
    """The open waitlist offer holding this (proposed) appointment, if any: it is answered on the waitlist page."""
    offer = getattr(appointment, "waitlist_offer", None) if appointment.status == S.PROPOSED else None
    return offer if offer and offer.status == WaitlistOffer.Status.OPEN else None


def appointment_actions(appointment: Appointment) -> list[dict]:
    """The moves the appointment can make now, in lifecycle order (cancel last, with its own form)."""
    if open_offer(appointment):
        return []
    allowed = TRANSITIONS.get(appointment.status, {})
    return [{"slug": slug, "label": label, "status": status} for slug, (status, label) in APPOINTMENT_ACTIONS.items()
            if status in allowed]


def can_reschedule(appointment: Appointment) -> bool:
    return (appointment.status in RESCHEDULABLE and not open_offer(appointment)
            and not hasattr(appointment, "rescheduled_to"))


def board_sites_for(user) -> QuerySet[Site]:
    site_ids = site_ids_for(user)
    sites = Site.objects.filter(active=True)
    return sites if site_ids is None else sites.filter(pk__in=site_ids)


def sites_offering(*, service_type: ServiceType, user) -> list[Site]:
    """Active sites among the user's that have the staff, room and equipment the service needs."""
    allowed = site_ids_for(user)
    return [plan.site for plan in site_plans(service_type, None) if allowed is None or plan.site.pk in allowed]


@dataclass
class Suggestion:
    """A slot as a person reads it: when and where (site time), with whom, in which room, with what."""

    token: str
    site: Site
    start: datetime
    end: datetime
    staff: str = ""
    room: str = ""
    equipment: list[str] = field(default_factory=list)
    badges: list[str] = field(default_factory=list)
    group_session: bool = False
    places_left: int | None = None
    capacity: int = 1
    warnings: list[str] = field(default_factory=list)  # staffing: overtime, rest, credential


def _badges(prefs: Preferences, local: datetime) -> list[str]:
    badges = []
    if prefs.weekdays and local.weekday() in prefs.weekdays:
        badges.append(f"Preferred day ({local:%a})")
    if prefs.time_of_day in TIME_OF_DAY:
        low, high = TIME_OF_DAY[prefs.time_of_day]
        if low <= local.hour < high:
            badges.append(f"Preferred time ({prefs.time_of_day})")
    return badges


def _spread(found: list[Candidate], tz_of: dict[int, object], limit: int, per_day: int, gap: timedelta) -> list[Candidate]:
    """Keep the ranking, but offer a choice: at most `per_day` slots per site and day, `gap` apart."""
    kept: dict[tuple[int, date], list[datetime]] = {}
    out = []
    for c in found:
        starts = kept.setdefault((c.site_id, c.start.astimezone(tz_of[c.site_id]).date()), [])
        if len(starts) < per_day and all(abs(c.start - s) >= gap for s in starts):
            starts.append(c.start)
            out.append(c)
            if len(out) == limit:
                break
    return out


def slot_suggestions(*, service_type: ServiceType, site_ids: list[int], preferences: Preferences | None = None,
                     valid_from: date | None = None, valid_to: date | None = None, limit: int = 12,
                     per_day: int = 3) -> list[Suggestion]:
    """Ranked free slots (scheduling.slots.find_slots) described with names, spread over several days so a person
    has a real choice, in a constant number of queries."""
    if not site_ids:  # find_slots reads "no sites" as "every site"; here it means none the user may book at
        return []
    prefs = preferences or Preferences()
    found = find_slots(service_type=service_type, sites=site_ids, preferences=prefs, valid_from=valid_from,
                       valid_to=valid_to, limit=limit * per_day * 4)
    sites = Site.objects.in_bulk({c.site_id for c in found})
    found = _spread(found, {pk: site.tz for pk, site in sites.items()}, limit, per_day,
                    timedelta(minutes=max(60, service_type.duration_minutes)))
    resources = Resource.objects.select_related("staff_member", "room", "equipment").in_bulk(
        {r for c in found for r in c.resource_ids})
    taken = dict(Appointment.objects.filter(booking_id__in=[c.booking_id for c in found if c.booking_id],
                                            status__in=Appointment.HOLDING)
                 .values("booking_id").annotate(n=Count("pk")).values_list("booking_id", "n"))
    out = []
    for c in found:
        site = sites[c.site_id]
        held = [resources[r] for r in c.resource_ids if r in resources]
        out.append(Suggestion(
            token=c.token, site=site, start=c.start, end=c.end,
            staff=", ".join(r.staff_member.display_name for r in held if r.kind == Resource.Kind.STAFF),
            room=", ".join(r.room.name for r in held if r.kind == Resource.Kind.ROOM),
            equipment=[r.equipment.name for r in held if r.kind == Resource.Kind.EQUIPMENT],
            badges=_badges(prefs, c.start.astimezone(site.tz)), group_session=bool(c.booking_id),
            places_left=service_type.capacity - taken.get(c.booking_id, 0) if c.booking_id else None,
            capacity=service_type.capacity,
            warnings=[w for r in held if r.kind == Resource.Kind.STAFF
                      for w in booking_staff_problems(staff_member=r.staff_member, service_type=service_type,
                                                      start=c.start, end=c.end, site=site)],
        ))
    return out


# Waitlist


def waitlist_visible_to(user) -> QuerySet[WaitlistEntry]:
    """Entries preferring one of the user's sites, or whose patient's home site is one of them (everything for
    network-wide users)."""
    entries = WaitlistEntry.objects.select_related("patient", "service_type", "current_appointment__site")
    site_ids = site_ids_for(user)
    if site_ids is None:
        return entries
    return entries.filter(Q(_prefers_any_of(site_ids)) | Q(patient__home_site_id__in=site_ids))


def _prefers_any_of(site_ids) -> Exists:
    through = WaitlistEntry.preferred_sites.through
    return Exists(through.objects.filter(waitlistentry_id=OuterRef("pk"), site_id__in=site_ids))


OPEN_ENTRY = [WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED]


def waitlist_list(*, user, filters: dict) -> QuerySet[WaitlistEntry]:
    entries = waitlist_visible_to(user)
    status = filters.get("status")
    if status == "all":
        pass
    elif status:
        entries = entries.filter(status=status)
    else:
        entries = entries.filter(status__in=OPEN_ENTRY)
    if service_type := filters.get("service_type"):
        entries = entries.filter(service_type=service_type)
    if site := filters.get("site"):
        entries = entries.filter(Q(_prefers_any_of([site.pk])) | Q(patient__home_site=site))
    offers = WaitlistOffer.objects.select_related("appointment__site").order_by("-offered_at")
    return entries.prefetch_related("preferred_sites", Prefetch("offers", queryset=offers)).order_by(
        "-priority", "created_at", "pk")


def waitlist_entry_for(*, user, pk: int) -> WaitlistEntry:
    return waitlist_visible_to(user).get(pk=pk)


def waitlist_offer_for(*, user, pk: int) -> WaitlistOffer:
    """An offer on an entry the user may see; raises WaitlistOffer.DoesNotExist otherwise."""
    return WaitlistOffer.objects.select_related("entry", "appointment").get(
        pk=pk, entry__in=waitlist_visible_to(user).values("pk"))


def patient_by_mrn(*, user, mrn: str) -> Patient | None:
    """The patient with this MRN if the user's sites care for them (home site, or an appointment there)."""
    patients = Patient.objects.filter(mrn__iexact=mrn.strip())
    site_ids = site_ids_for(user)
    if site_ids is not None:
        at_sites = Appointment.objects.filter(patient=OuterRef("pk"), site_id__in=site_ids)
        patients = patients.filter(Q(home_site_id__in=site_ids) | Exists(at_sites))
    return patients.first()
