"""Small builders for test data: a network with two sites, a service, resources, patients and referrals."""

import itertools
from datetime import date, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from authorizations.models import Payer
from healthops.audit import system_user
from healthops.models import Department, Organization, Patient, Resource, Site, UserProfile
from scheduling.models import DocumentKind, Room, RoomKind, ServiceType
from staffing.models import Specialty, StaffMember

_seq = itertools.count(1)


def n() -> int:
    return next(_seq)


def organization(kind=Organization.Kind.NETWORK, **kw) -> Organization:
    i = n()
    return Organization.objects.create(name=kw.pop("name", f"Org {i}"), kind=kind, identifier=f"ORG-{i}", **kw)


def site(org=None, **kw) -> Site:
    i = n()
    org = org or organization()
    s = Site.objects.create(organization=org, code=kw.pop("code", f"site-{i}"), name=kw.pop("name", f"Site {i}"),
                            kind=kw.pop("kind", Site.Kind.CLINIC), time_zone=kw.pop("time_zone", "America/Chicago"), **kw)
    Department.objects.create(site=s, code="general", name="General")
    return s


def patient(home_site=None, **kw) -> Patient:
    i = n()
    defaults = dict(mrn=f"MRN-T{i:05d}", given_name=f"Given{i}", family_name=f"Family{i}",
                    birth_date=date(1970, 1, 1) + timedelta(days=i), home_site=home_site)
    defaults.update(kw)
    return Patient.objects.create(**defaults)


def service_type(**kw) -> ServiceType:
    i = n()
    spec, _ = Specialty.objects.get_or_create(code="general", defaults={"name": "General practice"})
    kind, _ = RoomKind.objects.get_or_create(code="exam", defaults={"name": "Exam room"})
    defaults = dict(code=f"svc-{i}", name=f"Service {i}", specialty=spec, duration_minutes=30,
                    staff_role=StaffMember.Role.PHYSICIAN, room_kind=kind)
    defaults.update(kw)
    return ServiceType.objects.create(**defaults)


def document_kind(code="referral-letter") -> DocumentKind:
    return DocumentKind.objects.get_or_create(code=code, defaults={"name": code.replace("-", " ").title()})[0]


def room(at: Site, **kw) -> Room:
    i = n()
    kind, _ = RoomKind.objects.get_or_create(code="exam", defaults={"name": "Exam room"})
    name = kw.pop("name", f"Room {i}")
    resource = Resource.objects.create(kind=Resource.Kind.ROOM, name=name, site=at)
    return Room.objects.create(resource=resource, site=at, name=name, kind=kw.pop("kind", kind), **kw)


def staff(at: Site, role=StaffMember.Role.PHYSICIAN, **kw) -> StaffMember:
    i = n()
    resource = Resource.objects.create(kind=Resource.Kind.STAFF, name=f"Staff {i}")
    member = StaffMember.objects.create(resource=resource, given_name=f"Staff{i}", family_name="Member", role=role,
                                        hourly_cost=100, cost_centre="CC-1", external_id=f"WF-{i}", **kw)
    member.sites.add(at)
    return member


def payer(**kw) -> Payer:
    i = n()
    org = organization(kind=Organization.Kind.PAYER, name=f"Payer {i}")
    return Payer.objects.create(organization=org, identifier=f"PAYER-{i}", name=org.name, sandbox_key=f"payer{i}", **kw)


def user(username: str, role: str | None, sites=(), network_wide=False, **kw):
    u = get_user_model().objects.create_user(username=username, password="pw-for-tests-1", **kw)
    if role:
        u.groups.add(Group.objects.get(name=role))
    profile = UserProfile.objects.create(user=u, network_wide=network_wide)
    profile.sites.set(sites)
    return u


def referral(at: Site, patient_=None, service=None, **kw):
    from referrals.services import referral_create

    return referral_create(
        referring_organization=kw.pop("referring_organization", None) or organization(Organization.Kind.PRACTICE),
        site=at, reason=kw.pop("reason", "Persistent symptoms"), source_channel=kw.pop("source_channel", "web"),
        actor=kw.pop("actor", None) or system_user(), patient=patient_ if patient_ is not None else patient(at),
        service_type=service or service_type(), received_at=kw.pop("received_at", timezone.now()), **kw,
    )


def point_at_sandbox(settings, sandbox) -> None:
    """Payer and messaging calls go to the in-process sandbox, with short timeouts and no waiting between retries."""
    settings.PAYER_URL = f"{sandbox.base_url}/payer"
    settings.MESSAGING_URL = f"{sandbox.base_url}/messaging"
    settings.INTEGRATIONS = {"TIMEOUT_SECONDS": 1, "MAX_ATTEMPTS": 2, "BACKOFF_BASE_SECONDS": 0,
                             "BACKOFF_MAX_SECONDS": 0, "FAILURE_THRESHOLD": 5, "OPEN_SECONDS": 60}


def bookable_clinic(at: Site, *, auto_book: bool = True) -> ServiceType:
    """A dermatology service at `at` with one room open around the clock and one physician on shift 14:00-20:00 UTC
    for the next two weeks: plenty of free slots."""
    from scheduling.models import WeeklyAvailability
    from staffing.models import Shift

    service = service_type(code="derm", name="Dermatology consult", auto_book=auto_book, min_notice_hours=1)
    exam = room(at)
    doctor = staff(at)
    WeeklyAvailability.objects.bulk_create([
        WeeklyAvailability(resource=exam.resource, weekday=weekday, start_time=time(0), end_time=time(23, 59))
        for weekday in range(7)])
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    Shift.objects.bulk_create([
        Shift(staff=doctor, site=at, start=today + timedelta(days=day, hours=14), end=today + timedelta(days=day, hours=20))
        for day in range(1, 15)])
    return service
