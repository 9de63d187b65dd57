"""A small clinic for staffing: two physicians (one a cardiologist) and a nurse at North, in Chicago time."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from healthops.audit import system_user
from scheduling.services import appointment_book
from staffing.models import Credential, CredentialKind, Shift, Specialty, StaffMember

from .. import factories

CHI = ZoneInfo("America/Chicago")
MONDAY = date(2030, 6, 3)  # a Monday, daylight-saving time (UTC-5) all month


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHI).astimezone(UTC)


def shift(member, site, day, start_h, end_h, **kw) -> Shift:
    end_day = day if end_h > start_h else day + timedelta(days=1)
    return Shift.objects.create(staff=member, site=site, start=at(day, start_h), end=at(end_day, end_h), **kw)


def member(site, role=StaffMember.Role.PHYSICIAN, **fields) -> StaffMember:
    """factories.staff with our own external id, cost and cost centre."""
    m = factories.staff(site, role=role)
    StaffMember.objects.filter(pk=m.pk).update(**fields)
    m.refresh_from_db()
    return m


def book(service, site, member, start, actor=None):
    return appointment_book(patient=factories.patient(site), service_type=service, site=site, start=start,
                            resources=[member.resource], actor=actor or system_user())


@pytest.fixture
def clinic(north):
    cardio = Specialty.objects.create(code="cardiology", name="Cardiology")
    licence = CredentialKind.objects.create(code="state-licence", name="State medical licence")
    gp = factories.service_type(code="gp-visit", name="GP visit", duration_minutes=30, room_kind=None,
                                required_credential=licence, min_notice_hours=0)
    echo = factories.service_type(code="echo", name="Echo review", duration_minutes=60, room_kind=None,
                                  staff_specialty=cardio, min_notice_hours=0)
    p1 = member(north, external_id="WF-P1", hourly_cost=100, cost_centre="CC-P1")
    p2 = member(north, external_id="WF-P2", hourly_cost="120.50", cost_centre="CC-P2")
    p2.specialties.add(cardio)
    nurse = member(north, role=StaffMember.Role.NURSE, external_id="WF-N1", hourly_cost=55,
                            cost_centre="CC-N")
    for m in (p1, p2, nurse):
        Credential.objects.create(staff=m, kind=licence, expires_on=MONDAY + timedelta(days=365))
    return {"site": north, "gp": gp, "echo": echo, "p1": p1, "p2": p2, "nurse": nurse, "licence": licence,
            "cardio": cardio}
