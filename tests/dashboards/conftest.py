"""A small network history built with the real services (and task events as the work queues write them), then folded
into the dashboard facts."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone

from authorizations.services import (
    authorization_create,
    authorization_mark_submitted,
    authorization_record_decision,
    coverage_create,
)
from dashboards.facts import refresh_facts
from healthops.audit import system_user
from healthops.events import emit
from healthops.overrides import override_record
from referrals.services import referral_link_appointment, referral_link_authorization, referral_set_stage
from scheduling.services import appointment_book, appointment_transition
from staffing.models import Shift

from .. import factories


def task(referral, verb, task_id, at, **data):
    with transaction.atomic():
        emit(f"task.{verb}", subject=referral.subject, source="referrals", actor=system_user(), time=at,
             data={"referral_id": referral.pk, "task_id": task_id, **data})


def stage(referral, to, at):
    referral_set_stage(referral=referral, stage=to, actor=system_user(), reason=f"to {to}", time=at)


def book(referral, room, at, start):
    actor = system_user()
    appt = appointment_book(patient=referral.patient, service_type=referral.service_type, site=referral.site,
                            start=start, actor=actor, resources=[room.resource], time=at)
    referral_link_appointment(referral=referral, appointment=appt, actor=actor, time=at)
    stage(referral, "booked", at)
    return appt


@pytest.fixture
def history(db, north, south, manager):
    now = timezone.now()
    T = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    h = lambda hours: T + timedelta(hours=hours)  # noqa: E731
    actor = system_user()
    service = factories.service_type(name="Knee MRI")
    rooms = {"north": factories.room(north), "south": factories.room(south)}
    p1, p2 = factories.payer(), factories.payer()

    def referral(site, payer, received):
        patient = factories.patient(site)
        coverage = coverage_create(patient=patient, payer=payer, member_id=f"M-{patient.pk}",
                                   period_start=date(2020, 1, 1), actor=actor)
        return factories.referral(site, patient, service, coverage=coverage, received_at=received)

    # A: north, one manual task, booked after 8 h (3 h of it worked).
    a = referral(north, p1, h(0))
    stage(a, "eligibility", h(1))
    task(a, "created", 9001, h(2), task_type="verify_eligibility", due_at=h(4).isoformat(), reason="payer down")
    task(a, "assigned", 9001, h(3), assignee=manager.pk)
    task(a, "completed", 9001, h(5), task_type="verify_eligibility", manual=True)
    stage(a, "scheduling", h(6))
    appt_a = book(a, rooms["north"], h(8), T + timedelta(days=3))
    # B: north, straight through in 3 h; the patient does not come.
    b = referral(north, p2, h(1))
    stage(b, "eligibility", h(2))
    stage(b, "scheduling", h(3))
    appt_b = book(b, rooms["north"], h(4), T + timedelta(days=4))
    appointment_transition(appointment=appt_b, to_status="noshow", actor=actor, time=T + timedelta(days=4, hours=1))
    # C: south, incomplete, an outreach task open and past its SLA, and an override.
    c = referral(south, p1, h(2))
    stage(c, "completeness", h(3))
    task(c, "created", 9002, h(3), task_type="outreach", due_at=h(5).isoformat(), reason="letter missing")
    override_record(rule="referral.book-before-authorization", subject=c.subject, actor=manager,
                    reason_code="manager-decision", justification="Clinical need confirmed by the lead physician")
    # D: south, two overlapping tasks (one escalated, one closed automatically), booked after 40 h, then cancelled.
    d = referral(south, p2, h(0))
    task(d, "created", 9003, h(1), task_type="schedule", due_at=h(3).isoformat())
    task(d, "assigned", 9003, h(1.5), assignee=manager.pk)
    task(d, "created", 9004, h(2), task_type="auth_follow_up", due_at=h(10).isoformat())
    task(d, "escalated", 9004, h(25), task_type="auth_follow_up")
    task(d, "completed", 9003, h(20), task_type="schedule", manual=True)
    task(d, "completed", 9004, h(30), task_type="auth_follow_up", manual=False)
    stage(d, "scheduling", h(31))
    appt_d = book(d, rooms["south"], h(40), T + timedelta(days=5))
    appointment_transition(appointment=appt_d, to_status="cancelled", reason="patient", actor=actor,
                           time=T + timedelta(days=4))
    # E: north, in the previous period (48 h cycle).
    e = referral(north, p1, T - timedelta(days=40))
    book(e, rooms["north"], T - timedelta(days=38), T - timedelta(days=30))

    # Authorizations: on time (A), past the 72 h clock (C, expedited), undecided past its 7 days (D).
    def auth(referral, coverage_payer_urgency, submitted, decided=None, code="A1"):
        z = authorization_create(coverage=referral.coverage, service_type=service, actor=actor,
                                 urgency=coverage_payer_urgency, time=submitted)
        referral_link_authorization(referral=referral, authorization=z, actor=actor, time=submitted)
        z = authorization_mark_submitted(authorization=z, actor=actor, submitted_at=submitted)
        if decided:
            kw = {"auth_number": "AUTH-1", "valid_from": date(2020, 1, 1), "valid_to": date(2099, 1, 1)} \
                if code == "A1" else {"denial_reason": "Not medically necessary"}
            z = authorization_record_decision(authorization=z, decision_code=code, actor=actor, decided_at=decided, **kw)
        return z

    z1 = auth(a, "standard", h(1), h(49))
    z2 = auth(c, "expedited", h(3), h(3 + 96), code="A3")
    z3 = auth(d, "standard", h(-24))

    # A physician rostered 45 h this week: overtime.
    doctor = factories.staff(north)
    monday = (now - timedelta(days=now.weekday())).replace(hour=8, minute=0, second=0, microsecond=0)
    for day in range(5):
        Shift.objects.create(staff=doctor, site=north, start=monday + timedelta(days=day),
                             end=monday + timedelta(days=day, hours=9))

    refresh_facts()
    return SimpleNamespace(now=now, T=T, north=north, south=south, service=service, p1=p1, p2=p2, rooms=rooms,
                           a=a, b=b, c=c, d=d, e=e, appts=[appt_a, appt_b, appt_d], auths=[z1, z2, z3], doctor=doctor)
