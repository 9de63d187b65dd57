"""Benchmark volume for `seed_demo --scale N`: patients, coverage, referrals, eligibility checks, authorizations,
appointments (with their bookings and held resources) and the events the services would have written, inserted in
bulk, chunk by chunk, each chunk in its own transaction.

Same natural keys as the base seed (MRN-000321..., DEMO-REF-000221...), so reruns skip what exists; each row's content
comes from its own seeded random stream, so a referral is the same whatever scale created it. Appointments are placed
by the seed's calendar (qualified staff on shift, rooms and equipment of the right kinds, no overlaps). Each scale unit
adds 200 referrals; there is only so much clinic time in 60 days, so past appointments of later units reach further
back in history (shifts are laid out for those days too), and future bookings stop at a quarter of staff time, leaving
the coming weeks mostly free. No outbox deliveries are created for this history."""

import time as clock
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.test.utils import override_settings

from authorizations.models import Authorization, Coverage, EligibilityCheck
from healthops.models import Event, Patient
from referrals.models import Referral, ReferralAppointment, ReferralAuthorization
from scheduling.models import Appointment, BookedResource, Booking

from . import catalog as C
from .calendar import days_around
from .journeys import (
    BASE_PATIENTS,
    BASE_REFERRALS,
    CHANNELS,
    PRIORITIES,
    between,
    mrn,
    patient_spec,
    referral_key,
    weighted,
)
from .network import PAST_DAYS, SeedContext, rng_for, seed_availability, seed_shifts

PATIENTS_PER_SCALE = 300
REFERRALS_PER_SCALE = 200
CHUNK = 2000
UNITS_PER_BLOCK = 35  # scale units whose past appointments share one 60-day block of history (about half full)
EVENT_NAMESPACE = uuid.UUID("5b0c2f8e-3f0a-4d51-9a51-2d0c6b1f7e11")
Stage = Referral.Stage
St = Appointment.Status
STAGES = [(Stage.INTAKE, 4), (Stage.PATIENT_MATCH, 2), (Stage.COMPLETENESS, 6), (Stage.ELIGIBILITY, 5),
          (Stage.AUTHORIZATION, 7), (Stage.SCHEDULING, 8), (Stage.BOOKED, 8), (Stage.COMPLETED, 45), (Stage.CLOSED, 15)]
CLOSED_WAYS = [("declined", 40), ("not-in-force", 15), ("cancelled", 15), ("noshow", 20), ("entered-in-error", 10)]
SERVICES = [s for s in C.SERVICES if s.capacity == 1]  # group sessions are left to the base seed
SERVICE_WEIGHTS = [C.referral_weight(s) for s in SERVICES]


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


class Events:
    """Event rows as the services write them, with ids derived from natural keys (deterministic)."""

    def __init__(self, actor_id: int):
        self.rows: list[Event] = []
        self.actor_id = actor_id

    def add(self, key: str, type_: str, source: str, subject: str, at: datetime, data: dict) -> None:
        self.rows.append(Event(id=uuid.uuid5(EVENT_NAMESPACE, f"{key}:{type_}:{subject}:{at.isoformat()}"),
                               source=f"/healthops/{source}", type=f"org.healthops.{type_}.v1", subject=subject,
                               time=at, data=data, actor_id=self.actor_id))

    def flush(self) -> int:
        self.rows.sort(key=lambda e: e.time)  # sequence follows time within a chunk, as it would have live
        Event.objects.bulk_create(self.rows, batch_size=CHUNK)
        count, self.rows = len(self.rows), []
        return count


@contextmanager
def fast_inserts():
    """Bulk volume without per-query bookkeeping: no DEBUG query log (on SQLite it re-quotes every parameter with an
    extra query), and on SQLite a larger page cache, so index upkeep on big tables stays in memory."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB, this connection only
    with override_settings(DEBUG=False):
        yield


def seed_bulk(ctx: SeedContext, *, scale: int, pool, progress=None) -> None:
    with fast_inserts():
        _seed_bulk(ctx, scale=scale, pool=pool, progress=progress)


def _seed_bulk(ctx: SeedContext, *, scale: int, pool, progress=None) -> None:
    say = progress or (lambda msg: None)
    started = clock.monotonic()
    bulk_patients(ctx, range(BASE_PATIENTS + 1, BASE_PATIENTS + PATIENTS_PER_SCALE * (scale - 1) + 1), pool)
    say(f"bulk patients: {clock.monotonic() - started:.1f} s")
    BulkReferrals(ctx).run(range(BASE_REFERRALS + 1, BASE_REFERRALS + REFERRALS_PER_SCALE * (scale - 1) + 1), say)
    say(f"bulk total: {clock.monotonic() - started:.1f} s")


def bulk_patients(ctx: SeedContext, numbers: range, pool) -> None:
    existing = set(Patient.objects.filter(mrn__startswith="MRN-").values_list("mrn", flat=True))
    todo = [n for n in numbers if mrn(n) not in existing]
    payers = {identifier: payer.pk for identifier, payer in ctx.payers.items()}
    for part in chunks(todo, CHUNK):
        with transaction.atomic():
            specs = [patient_spec(n, pool) for n in part]
            patients = [Patient(mrn=mrn(s.number), **{**s.fields, "home_site": ctx.sites[s.fields["home_site"]]})
                        for s in specs]
            Patient.objects.bulk_create(patients, batch_size=CHUNK)
            events = Events(ctx.actor.pk)
            coverages = []
            for spec, patient in zip(specs, patients, strict=True):
                registered = ctx.now - timedelta(days=rng_for("patient-time", spec.number).uniform(70, 700))
                events.add(patient.mrn, "patient.created", "healthops", f"patient/{patient.pk}", registered,
                           {"patient_id": patient.pk})
                for payer, member, plan, start, priority in spec.coverages:
                    coverages.append((registered + timedelta(minutes=5 + priority), payer, Coverage(
                        patient=patient, payer_id=payers[payer], member_id=member, plan=plan, period_start=start,
                        priority=priority)))
            Coverage.objects.bulk_create([c for _, _, c in coverages], batch_size=CHUNK)
            for at, payer, coverage in coverages:
                events.add(coverage.member_id, "coverage.created", "authorizations", f"coverage/{coverage.pk}", at,
                           {"coverage_id": coverage.pk, "patient_id": coverage.patient_id, "payer": payer})
            events.flush()
            ctx.counts["patients"] += len(patients)
            ctx.counts["coverages"] += len(coverages)


@dataclass
class Plan:
    """One referral's rows and the moments of its journey, filled in before the ids exist."""

    n: int
    referral: Referral
    service: C.Service | None
    payer: str
    steps: list = field(default_factory=list)  # (time, kind, payload): written as events once ids exist
    check: EligibilityCheck | None = None
    auth: Authorization | None = None
    auth_times: tuple = ()
    appointment: Appointment | None = None
    booking: Booking | None = None
    held: tuple[int, ...] = ()
    transitions: list = field(default_factory=list)  # (time, event, from, to, reason)
    booked_at: datetime | None = None
    tasks: list = field(default_factory=list)  # finished human tasks: (type, reason, created, completed, manual)


class BulkReferrals:
    def __init__(self, ctx: SeedContext):
        self.ctx, self.cal, self.now = ctx, ctx.calendar, ctx.now
        self.patients: dict[int, tuple[int, str, int | None, str, str]] = {}  # number -> (id, home, cov, payer, member)
        self.services = {code: st for code, st in ctx.services.items()}
        self.earliest_day = None

    def load_people(self) -> None:
        ids = {}
        for number_text, pk, home in Patient.objects.filter(mrn__startswith="MRN-").values_list(
                "mrn", "pk", "home_site__code").iterator(chunk_size=CHUNK):
            ids[pk] = (int(number_text[4:]), home)
        # Every primary coverage, the seeded patients' picked out here: an id list would pass PostgreSQL's limit
        # of 65,535 bound parameters, and a join on the MRN prefix is planned blind on tables not yet analyzed.
        for patient_id, coverage_id, payer, member in Coverage.objects.filter(priority=1).values_list(
                "patient_id", "pk", "payer__identifier", "member_id").iterator(chunk_size=CHUNK):
            if patient_id not in ids:
                continue
            number, home = ids[patient_id]
            self.patients[number] = (patient_id, home, coverage_id, payer, member)

    def run(self, numbers: range, say) -> None:
        existing = set(Referral.objects.filter(external_identifier__startswith="DEMO-REF-")
                       .values_list("external_identifier", flat=True))
        todo = [n for n in numbers if referral_key(n) not in existing]
        if not todo:
            return
        self.load_people()
        started = clock.monotonic()
        for i, part in enumerate(chunks(todo, CHUNK)):
            with transaction.atomic():
                plans = [self.plan(n) for n in part]
                self.write(plans)
            if i % 10 == 9:
                say(f"bulk referrals: {min((i + 1) * CHUNK, len(todo))}/{len(todo)} in {clock.monotonic() - started:.1f} s")
        if self.earliest_day is not None:
            # Staff shifts and clinic holidays for the older history the appointments reached.
            last = self.ctx.anchor - timedelta(days=PAST_DAYS + 1)
            if self.earliest_day <= last:
                with transaction.atomic():
                    seed_shifts(self.ctx, self.earliest_day, last)
                    seed_availability(self.ctx, self.earliest_day, last)

    # -- planning one referral --------------------------------------------------------------------------------
    def plan(self, n: int) -> Plan:
        ctx, now = self.ctx, self.now
        rng = rng_for("referral", n)
        unit = (n - BASE_REFERRALS - 1) // REFERRALS_PER_SCALE + 2  # the scale step that introduced this referral
        stage = weighted(rng, STAGES)
        way = weighted(rng, CLOSED_WAYS) if stage == Stage.CLOSED else ""
        person = None
        if stage != Stage.PATIENT_MATCH:
            person = self.patients.get(rng.randint(1, BASE_PATIENTS + PATIENTS_PER_SCALE * (unit - 1)))
            stage = stage if person else Stage.PATIENT_MATCH
        patient_id, home, coverage_id, payer, member = person or (None, None, None, C.PAYERS[0][0], "")
        if member.startswith(("TEST-INACTIVE", "TEST-DENY", "TEST-PEND")) and stage != Stage.INTAKE:
            # The sandbox's test members stop where the payer stops them: not in force, or at authorization.
            stage, way = (Stage.ELIGIBILITY if member.startswith("TEST-INACTIVE") else Stage.AUTHORIZATION), ""
        if stage == Stage.AUTHORIZATION:
            choices = [s for s in SERVICES if C.prior_auth_required(payer, s.code)]
            service = rng.choice(choices)
        elif stage == Stage.COMPLETENESS:
            service = rng.choice([s for s in SERVICES if s.documents or C.payer_documents(payer, s.code)])
        else:
            service = rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0]
        sites = self.cal.sites_for[service.code]
        site = home if home in sites and rng.random() < 0.7 else rng.choice(sites)
        practice, practitioners = rng.choice(ctx.practices)
        practitioner, practitioner_npi = rng.choice(practitioners)
        channel, priority = weighted(rng, CHANNELS), weighted(rng, PRIORITIES)

        # Past appointments of this scale unit fall in its 60-day block of history.
        place = None
        if stage == Stage.COMPLETED or way in ("cancelled", "noshow", "entered-in-error"):
            block = (unit - 2) // UNITS_PER_BLOCK
            target = now - timedelta(days=1 + 60 * block + rng.uniform(0, 58))
            place = self.past_place(rng, service, site, target, hold=stage == Stage.COMPLETED)
            if place is None:
                stage, way = Stage.CLOSED, "no-capacity"
        if stage == Stage.BOOKED:
            place = self.future_place(rng, service, site)
            if place is None:
                stage = Stage.SCHEDULING
        if place is not None and place.start_at < now:
            received = place.start_at - timedelta(days=rng.uniform(4, 25))
            limit = place.start_at - timedelta(hours=2)
        elif place is not None:
            received = now - timedelta(days=rng.uniform(1, 20))
            limit = now - timedelta(minutes=5)
        else:
            age = {Stage.INTAKE: (0.05, 3), Stage.PATIENT_MATCH: (0.1, 4), Stage.COMPLETENESS: (1, 14),
                   Stage.ELIGIBILITY: (0.3, 6), Stage.AUTHORIZATION: (2, 15), Stage.SCHEDULING: (3, 25)}.get(
                stage, (3, 58))
            received = now - timedelta(days=rng.uniform(*age))
            limit = now - timedelta(minutes=5)
        t = received

        def tick(lo=0.2, hi=30):
            nonlocal t
            t = min(t + timedelta(hours=rng.uniform(lo, hi)), t + (limit - t) / 2)
            return t

        referral = Referral(
            patient_id=patient_id, coverage_id=coverage_id, referring_organization=practice,
            referring_practitioner=practitioner, referring_practitioner_npi=practitioner_npi,
            partner=ctx.partner if channel in ("fhir-api", "hl7v2") else None, service_type=self.services[service.code],
            requested_code=service.code, site=ctx.sites[site], department=ctx.departments.get((site, service.department)),
            priority=priority, reason=rng.choice(service.reasons), received_at=received, source_channel=channel,
            external_identifier=referral_key(n), created_by=ctx.actor,
            stage=Stage.INTAKE if patient_id else Stage.PATIENT_MATCH,
            stage_reason="" if patient_id else "No patient matched the referral's identifiers.")
        plan = Plan(n, referral, service, payer)
        stage_now = referral.stage

        def move(to, reason="", event=None):
            nonlocal stage_now
            plan.steps.append((tick(), "stage", (event or STAGE_EVENTS.get(to, "referral.stage-changed"),
                                                 stage_now, to, reason)))
            stage_now = to
            referral.stage, referral.stage_reason = to, reason

        def revoke(reason):
            plan.steps.append((tick(2, 48), "stage", ("referral.revoked", stage_now, Stage.CLOSED, reason)))
            referral.stage, referral.stage_reason, referral.status = Stage.CLOSED, reason, Referral.Status.REVOKED

        if stage in (Stage.INTAKE, Stage.PATIENT_MATCH):
            return plan
        if stage == Stage.COMPLETENESS:
            missing = list(dict.fromkeys(service.documents + C.payer_documents(payer, service.code)))
            move(Stage.COMPLETENESS, "Missing: " + ", ".join(C.DOCUMENT_KINDS[k].lower() for k in missing)
                 + "; referrer contacted")
            return plan
        if way == "declined":
            revoke(rng.choice(["Patient declined the referral when contacted", "Duplicate of a referral already in "
                               "progress", "Care obtained elsewhere"]))
            return plan
        move(Stage.ELIGIBILITY, "Eligibility check requested from the payer")
        inactive = member.startswith("TEST-INACTIVE") or way == "not-in-force"
        if stage == Stage.ELIGIBILITY and not inactive and rng.random() < 0.5:
            return plan  # still waiting for the payer
        outcome = EligibilityCheck.Outcome.NOT_IN_FORCE if inactive else EligibilityCheck.Outcome.IN_FORCE
        plan.check = EligibilityCheck(coverage_id=coverage_id, checked_at=tick(0.1, 6), outcome=outcome,
                                      source=EligibilityCheck.Source.PAYER_API, checked_by=ctx.actor,
                                      payer_reference=f"ELG-{n:06d}")
        if inactive:
            if stage == Stage.CLOSED:
                revoke("Coverage not in force; patient declined self-pay")
            else:
                move(Stage.ELIGIBILITY, "Coverage not in force; call the patient for current insurance")
            return plan
        if stage == Stage.ELIGIBILITY:
            return plan
        if C.prior_auth_required(payer, service.code):
            move(Stage.AUTHORIZATION, "Prior authorization required by the payer")
            urgency = "expedited" if priority in ("asap", "stat") else "standard"
            created, submitted = tick(0.1, 4), tick(0.2, 8)
            auth = Authorization(patient_id=patient_id, coverage_id=coverage_id, service_type=self.services[service.code],
                                 urgency=urgency, submitted_at=submitted, status=Authorization.Status.SUBMITTED,
                                 payer_tracking_id=f"PAS-{payer.removeprefix('PAYER-')}-{n:06d}")
            auth.due_at = auth.clock_due(submitted)
            plan.auth, plan.auth_times = auth, (created, submitted, [])
            decisions = plan.auth_times[2]
            if stage == Stage.AUTHORIZATION:
                if member.startswith("TEST-DENY") or rng.random() < 0.2:
                    decided = tick(4, 72)
                    auth.status, auth.decision_code, auth.decided_at = Authorization.Status.DENIED, "A3", decided
                    auth.denial_reason = "Medical necessity not established by the documentation"
                    decisions.append((decided, "A3"))
                    move(Stage.AUTHORIZATION, "Denied (A3): decide on peer-to-peer review or appeal")
                elif member.startswith("TEST-PEND") or rng.random() < 0.5:
                    auth.status, auth.decision_code = Authorization.Status.PENDED, "A4"
                    decisions.append((tick(4, 60), "A4"))
                    move(Stage.AUTHORIZATION, "Pended by the payer: additional clinical information requested")
                return plan
            if rng_for("seed-task", n).random() < 0.25:  # pended first: a follow-up task the decision closed
                pended = tick(4, 48)
                decisions.append((pended, "A4"))
                plan.tasks.append(["auth_follow_up", "Pended by the payer: waiting for the decision", pended, None,
                                   False])
            decided = tick(4, 72)
            for task in plan.tasks:
                if task[0] == "auth_follow_up" and task[3] is None:
                    task[3] = decided
            auth.status, auth.decision_code, auth.decided_at = Authorization.Status.APPROVED, "A1", decided
            auth.auth_number = f"AUTH-{payer.removeprefix('PAYER-')}-{n:06d}"
            auth.valid_from, auth.valid_to = decided.date(), decided.date() + timedelta(days=90)
            auth.units_approved = 1
            decisions.append((decided, "A1"))
        move(Stage.SCHEDULING, "Looking for a slot" if service.auto_book else
             "Scheduler to book: service is not booked automatically")
        if place is None:
            if way == "no-capacity":
                revoke("No capacity within the window; referred elsewhere")
            return plan

        # The appointment.
        scheduling_from = t
        booked_at = between(rng, t, min(place.start_at - timedelta(hours=1), now - timedelta(minutes=5)))
        t = booked_at
        if not service.auto_book:  # a scheduler booked it from the scheduling queue
            plan.tasks.append(["schedule", "This service is booked by a person.", scheduling_from, booked_at, True])
        status = St.BOOKED if stage != Stage.BOOKED else weighted(rng, [(St.BOOKED, 85), (St.PENDING, 10),
                                                                          (St.PROPOSED, 5)])
        plan.booked_at = booked_at
        plan.appointment = Appointment(patient_id=patient_id, service_type=self.services[service.code],
                                       site=ctx.sites[site], start=place.start_at, end=place.end_at, status=status)
        keeps_booking = stage in (Stage.COMPLETED, Stage.BOOKED) or way == "noshow"
        if plan.auth is not None and stage in (Stage.COMPLETED, Stage.BOOKED):
            plan.auth.units_used = 1  # the appointment holds the approved unit
        if keeps_booking:
            plan.booking = Booking(service_type=self.services[service.code], site=ctx.sites[site],
                                   start=place.start_at, end=place.end_at, active=way != "noshow")
            plan.held = place.resource_ids
        if stage == Stage.BOOKED:
            move(Stage.BOOKED, "")
            return plan
        if stage == Stage.COMPLETED:
            first = St.CHECKED_IN if rng.random() < 0.3 else St.ARRIVED
            arrived = place.start_at - timedelta(minutes=rng.randint(5, 20))
            plan.transitions += [(arrived, f"appointment.{first.replace('-', '')}", St.BOOKED, first, ""),
                                 (place.end_at, "appointment.fulfilled", first, St.FULFILLED, "")]
            plan.appointment.status = St.FULFILLED
            t, limit = place.end_at, now - timedelta(minutes=1)
            plan.steps.append((tick(1, 30), "stage", ("referral.completed", Stage.SCHEDULING, Stage.COMPLETED,
                                                      "Visit fulfilled")))
            referral.stage, referral.stage_reason, referral.status = (Stage.COMPLETED, "Visit fulfilled",
                                                                      Referral.Status.COMPLETED)
            return plan
        # Closed after a cancelled, missed or erroneous appointment.
        if way == "cancelled":
            at = between(rng, booked_at, place.start_at)
            plan.transitions.append((at, "appointment.cancelled", St.BOOKED, St.CANCELLED, "patient"))
            plan.appointment.status, plan.appointment.cancel_reason = St.CANCELLED, "patient"
            plan.appointment.cancel_text = "Patient no longer needs the appointment"
            reason = "Patient cancelled; care no longer needed"
        elif way == "noshow":
            plan.transitions.append((place.start_at + timedelta(minutes=20), "appointment.noshow", St.BOOKED,
                                     St.NOSHOW, ""))
            plan.appointment.status = St.NOSHOW
            reason = "Patient did not attend and did not respond to two calls"
        else:
            plan.transitions.append((between(rng, booked_at, place.start_at), "appointment.enteredinerror",
                                     St.BOOKED, St.ENTERED_IN_ERROR, ""))
            plan.appointment.status = St.ENTERED_IN_ERROR
            reason = "Booked in error (duplicate request); referral closed"
        t, limit = place.end_at, now - timedelta(minutes=1)
        revoke(reason)
        return plan

    def past_place(self, rng, service, site, target: datetime, hold: bool):
        last = min(target + timedelta(days=20), self.now - timedelta(hours=2))
        first = target - timedelta(days=40)
        days = days_around(target.date(), first.date(), last.date())
        place = self.cal.find(service, site, days, rng, not_before=first, not_after=last, utilization=0.7, hold=hold)
        if place is not None and (self.earliest_day is None or place.day < self.earliest_day):
            self.earliest_day = place.day
        return place

    def future_place(self, rng, service, site):
        lo = self.now + timedelta(hours=max(service.notice, 20))
        hi = self.now + timedelta(days=35)
        target = self.now.date() + timedelta(days=rng.randint(2, 30))
        return self.cal.find(service, site, days_around(target, lo.date(), hi.date()), rng, not_before=lo,
                             not_after=hi, utilization=0.25)

    # -- writing a chunk ----------------------------------------------------------------------------------------
    def write(self, plans: list[Plan]) -> None:
        ctx = self.ctx
        Referral.objects.bulk_create([p.referral for p in plans], batch_size=CHUNK)
        for p in plans:
            if p.check:
                p.check.coverage_id = p.referral.coverage_id
            if p.auth:
                p.auth.patient_id = p.referral.patient_id
        EligibilityCheck.objects.bulk_create([p.check for p in plans if p.check], batch_size=CHUNK)
        Authorization.objects.bulk_create([p.auth for p in plans if p.auth], batch_size=CHUNK)
        ReferralAuthorization.objects.bulk_create(
            [ReferralAuthorization(referral=p.referral, authorization=p.auth) for p in plans if p.auth], batch_size=CHUNK)
        Booking.objects.bulk_create([p.booking for p in plans if p.booking], batch_size=CHUNK)
        held = []
        for p in plans:
            if p.booking:
                p.appointment.booking = p.booking
                held += [BookedResource(booking=p.booking, resource_id=rid, start=p.booking.start, end=p.booking.end,
                                        active=p.booking.active) for rid in p.held]
        BookedResource.objects.bulk_create(held, batch_size=CHUNK)
        Appointment.objects.bulk_create([p.appointment for p in plans if p.appointment], batch_size=CHUNK)
        ReferralAppointment.objects.bulk_create(
            [ReferralAppointment(referral=p.referral, appointment=p.appointment) for p in plans if p.appointment],
            batch_size=CHUNK)
        events = Events(ctx.actor.pk)
        for p in plans:
            self.events_of(p, events)
        events.flush()
        counts = defaultdict(int)
        for p in plans:
            counts["referrals"] += 1
            counts["eligibility checks"] += bool(p.check)
            counts["authorizations"] += bool(p.auth)
            counts["appointments"] += bool(p.appointment)
        ctx.counts.update(counts)

    def events_of(self, p: Plan, events: Events) -> None:
        r, key = p.referral, p.referral.external_identifier
        subject = f"referral/{r.pk}"
        events.add(key, "referral.received", "referrals", subject, r.received_at, {
            "referral_id": r.pk, "patient_id": r.patient_id, "site": r.site.code, "service_type": r.requested_code,
            "priority": r.priority, "channel": r.source_channel})
        for at, _kind, (type_, before, after, reason) in p.steps:
            data = {"referral_id": r.pk, "from": before, "reason": reason}
            if type_ != "referral.revoked":
                data["to"] = after
            events.add(key, type_, "referrals", subject, at, data)
        if p.check:
            c = p.check
            events.add(key, "eligibility.checked", "authorizations", f"coverage/{c.coverage_id}", c.checked_at, {
                "eligibility_check_id": c.pk, "coverage_id": c.coverage_id, "payer": p.payer, "outcome": c.outcome,
                "source": c.source})
        if p.auth:
            a, (created, submitted, decisions) = p.auth, p.auth_times
            base = {"authorization_id": a.pk, "patient_id": a.patient_id, "coverage_id": a.coverage_id,
                    "payer": p.payer, "service_type": p.service.code, "urgency": a.urgency}
            auth_subject = f"authorization/{a.pk}"
            events.add(key, "authorization.created", "authorizations", auth_subject, created, {**base, "status": "draft"})
            events.add(key, "referral.authorization-linked", "referrals", subject, created,
                       {"referral_id": r.pk, "authorization_id": a.pk})
            events.add(key, "authorization.submitted", "authorizations", auth_subject, submitted,
                       {**base, "status": "submitted", "due_at": a.due_at.isoformat()})
            for at, code in decisions:
                status = {"A1": "approved", "A3": "denied", "A4": "pended"}[code]
                events.add(key, "authorization.decided", "authorizations", auth_subject, at,
                           {**base, "status": status, "decision": code})
        for i, (task_type, reason, created, completed, manual) in enumerate(p.tasks):
            # Negative: no viewflow task is behind this history (theirs are positive), and TaskFact keeps a number.
            task_id = -(int(key.rsplit("-", 1)[1]) * 100 + i)
            events.add(key, "task.created", "referrals", subject, created, {
                "referral_id": r.pk, "task_id": task_id, "task_type": task_type, "reason": reason,
                "due_at": (created + timedelta(hours=SLA_HOURS.get(r.priority, 48))).isoformat()})
            if completed is not None:
                events.add(key, "task.completed", "referrals", subject, completed, {
                    "task_id": task_id, "task_type": task_type, "manual": manual,
                    "outcome": "Booked" if task_type == "schedule" else "Payer decided: Approved",
                    "seconds_open": int((completed - created).total_seconds())})
        if p.appointment:
            ap = p.appointment
            events.add(key, "appointment.booked", "scheduling", f"appointment/{ap.pk}", p.booked_at, {
                "appointment_id": ap.pk, "patient_id": ap.patient_id, "service_type": p.service.code,
                "site": r.site.code, "start": ap.start.isoformat(), "end": ap.end.isoformat(),
                "status": St.BOOKED if p.transitions else ap.status, "resources": list(p.held),
                "booking_id": p.booking.pk if p.booking else None})
            events.add(key, "referral.appointment-linked", "referrals", subject, p.booked_at,
                       {"referral_id": r.pk, "appointment_id": ap.pk})
            for at, type_, before, after, reason in p.transitions:
                data = {"appointment_id": ap.pk, "from": before, "to": after}
                if reason:
                    data["reason"] = reason
                events.add(key, type_, "scheduling", f"appointment/{ap.pk}", at, data)


SLA_HOURS = {"routine": 48, "urgent": 24, "asap": 8, "stat": 2}  # referrals.steps.DEFAULT_SLA_HOURS
STAGE_EVENTS = {Stage.COMPLETENESS: "referral.incomplete", Stage.BOOKED: "referral.booked",
                Stage.COMPLETED: "referral.completed"}
