"""Patients, coverage and referrals at every step of their journey, written through the services (events, audit)."""

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction

from authorizations.models import Coverage, EligibilityCheck
from authorizations.services import (
    authorization_create,
    authorization_mark_submitted,
    authorization_record_decision,
    coverage_create,
    eligibility_record,
)
from healthops.errors import DomainError
from healthops.models import Patient, Resource
from healthops.services import patient_create
from referrals.models import Referral
from referrals.services import (
    referral_create,
    referral_document_add,
    referral_link_appointment,
    referral_link_authorization,
    referral_revoke,
    referral_set_stage,
)
from scheduling.models import Appointment
from scheduling.services import appointment_book, appointment_reschedule, appointment_transition
from scheduling.slots import Candidate

from . import catalog as C
from .calendar import Slot, days_around
from .names import NamePool, fictional_phone, tiny_pdf
from .network import SeedContext, rng_for

BASE_PATIENTS = 320
BASE_REFERRALS = 220
TEST_MEMBER_KINDS = ("TEST-ACTIVE", "TEST-PEND", "TEST-DENY", "TEST-INACTIVE")
Stage = Referral.Stage
St = Appointment.Status

# How the base referrals spread over the journey (sums to BASE_REFERRALS).
STAGE_COUNTS = {Stage.INTAKE: 14, Stage.PATIENT_MATCH: 10, Stage.COMPLETENESS: 18, Stage.ELIGIBILITY: 14,
                Stage.AUTHORIZATION: 26, Stage.SCHEDULING: 26, Stage.BOOKED: 44, Stage.COMPLETED: 48, Stage.CLOSED: 20}
# Variants within a stage, taken in turn, so each one is present whatever the random draws.
VARIANTS = {
    Stage.INTAKE: ["unknown-code", "plain", "plain", "unknown-code", "plain", "plain", "plain"],
    Stage.ELIGIBILITY: ["waiting", "unreachable", "not-in-force", "waiting"],
    Stage.AUTHORIZATION: ["submitted", "pended", "denied", "submitted", "pended"],
    Stage.SCHEDULING: ["waiting", "after-noshow", "waiting", "after-provider-cancel", "waiting", "manual-only"],
    Stage.BOOKED: ["booked", "booked", "pending", "booked", "proposed", "arrived", "booked", "checked-in",
                   "cancelled-then-booked", "booked", "error-then-booked", "rescheduled"],
    Stage.COMPLETED: ["arrived", "checked-in", "arrived"],
    Stage.CLOSED: ["duplicate", "not-in-force", "denied", "noshow", "cancelled", "declined"],
}
STREETS = ["Maple", "Oak", "Cedar", "Elm", "Prairie", "Platte", "Sandhill", "Bluestem", "Juniper", "Cottonwood",
           "Meadowlark", "Willow", "Harvest", "Wagon Trail", "Railroad"]
LANGUAGES = ["en"] * 40 + ["es"] * 6 + ["vi", "ar", "de", "so"]
PLANS = {"PAYER-BLUESHIELD": ["PPO Gold", "HMO Select", "High Deductible"], "PAYER-MEDICARE": ["Part B"],
         "PAYER-MEDICAID": ["Managed Care", "Expansion"], "PAYER-UNITEDCARE": ["Choice Plus", "Navigate"],
         "PAYER-PRAIRIE": ["Farm Bureau PPO"], "PAYER-SUMMIT": ["Essential", "Premier"]}
HOME_SITES = [(C.HOSPITAL, 35), (C.GRAND_ISLAND, 25), (C.HASTINGS, 22), (C.SCOTTSBLUFF, 18)]
PRIORITIES = [("routine", 70), ("urgent", 20), ("asap", 7), ("stat", 3)]
CHANNELS = [("web", 30), ("fhir-api", 30), ("fax", 25), ("hl7v2", 10), ("phone", 5)]


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def mrn(n: int) -> str:
    return f"MRN-{n:06d}"


def referral_key(n: int) -> str:
    return f"DEMO-REF-{n:06d}"


# ---------------------------------------------------------------------------------------------------------------
# Patients and coverage (shared by the base seed and the bulk volume: same person for the same number)
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientSpec:
    number: int
    fields: dict
    coverages: list  # [(payer identifier, member id, plan, period_start, priority)]


def patient_spec(n: int, pool: NamePool) -> PatientSpec:
    rng = rng_for("patient", n)
    sex = "female" if rng.random() < 0.52 else "male"
    given = rng.choice(pool.female if sex == "female" else pool.male)
    family = rng.choice(pool.family)
    if rng.random() < 0.01:
        sex = "unknown"
    home = weighted(rng, HOME_SITES)
    city, postal = C.SITE_CITY[home]
    born = date(1940, 1, 1) + timedelta(days=rng.randrange((date(2020, 12, 31) - date(1940, 1, 1)).days))
    slug = ".".join(re.sub(r"[^a-z]", "", name.lower()) for name in (given, family))
    fields = {
        "given_name": given, "family_name": family, "birth_date": born, "sex": sex,
        "phone": fictional_phone("308" if home != C.HASTINGS else "402", n), "email": f"{slug}{n}@example.org",
        "language": rng.choice(LANGUAGES), "address_line": f"{100 + rng.randrange(4900)} {rng.choice(STREETS)} St",
        "city": city, "state": "NE", "postal_code": postal, "home_site": home,
    }
    payer_ids = [p[0] for p in C.PAYERS]
    start = date(2020 + rng.randrange(6), 1 + rng.randrange(12), 1)
    if n <= len(payer_ids) * len(TEST_MEMBER_KINDS):  # the sandbox's test members, each kind with every payer
        payer = payer_ids[(n - 1) // len(TEST_MEMBER_KINDS)]
        member = f"{TEST_MEMBER_KINDS[(n - 1) % len(TEST_MEMBER_KINDS)]}-0001"
    else:
        payer = rng.choices(payer_ids, weights=C.PAYER_WEIGHTS)[0]
        member = f"MBR-{payer.removeprefix('PAYER-')}-{n:06d}"
    coverages = [(payer, member, rng.choice(PLANS[payer]), start, 1)]
    if n % 17 == 0:  # a few people have a secondary plan
        second = payer_ids[(payer_ids.index(payer) + 1 + n % 3) % len(payer_ids)]
        coverages.append((second, f"MBR-{second.removeprefix('PAYER-')}-{n:06d}", rng.choice(PLANS[second]), start, 2))
    return PatientSpec(n, fields, coverages)


def seed_base_patients(ctx: SeedContext, pool: NamePool) -> None:
    existing = set(Patient.objects.filter(mrn__startswith="MRN-").values_list("mrn", flat=True))
    for n in range(1, BASE_PATIENTS + 1):
        if mrn(n) in existing:
            continue
        spec = patient_spec(n, pool)
        rng = rng_for("patient-time", n)
        registered = ctx.now - timedelta(days=rng.uniform(70, 700))
        with transaction.atomic():
            fields = dict(spec.fields, home_site=ctx.sites[spec.fields["home_site"]])
            patient = patient_create(mrn=mrn(n), actor=ctx.actor, time=registered, **fields)
            ctx.counts["patients"] += 1
            for payer, member, plan, start, priority in spec.coverages:
                coverage_create(patient=patient, payer=ctx.payers[payer], member_id=member, plan=plan,
                                period_start=start, priority=priority, actor=ctx.actor,
                                time=registered + timedelta(minutes=5 + priority))
                ctx.counts["coverages"] += 1


# ---------------------------------------------------------------------------------------------------------------
# Referrals through the services
# ---------------------------------------------------------------------------------------------------------------

def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment strictly inside (start, end)."""
    return start + (end - start) * rng.uniform(0.2, 0.9)


class Clock:
    """Successive, strictly increasing moments between `start` and `limit` (never reaching it)."""

    def __init__(self, rng: random.Random, start: datetime, limit: datetime):
        self.rng, self.t, self.limit = rng, start, limit

    def tick(self, lo_hours: float = 0.2, hi_hours: float = 30) -> datetime:
        step = timedelta(hours=self.rng.uniform(lo_hours, hi_hours))
        self.t = min(self.t + step, self.t + (self.limit - self.t) / 2)
        return self.t


def stage_plan() -> list[tuple[str, str]]:
    """(stage, variant) for referral 1..BASE_REFERRALS; the same list on every run."""
    stages = [stage for stage, count in STAGE_COUNTS.items() for _ in range(count)]
    random.Random(SEED_PLAN).shuffle(stages)
    seen: dict[str, int] = {}
    plan = []
    for stage in stages:
        k = seen.get(stage, 0)
        seen[stage] = k + 1
        variants = VARIANTS.get(stage, ["plain"])
        plan.append((stage, variants[k % len(variants)]))
    return plan


SEED_PLAN = "healthops-demo-referral-plan"


class BaseJourneys:
    def __init__(self, ctx: SeedContext):
        self.ctx = ctx
        self.cal = ctx.calendar
        # Base patients with their primary coverage and member kind, in MRN order.
        coverages = (Coverage.objects.filter(priority=1, patient__mrn__in=[mrn(n) for n in range(1, BASE_PATIENTS + 1)])
                     .select_related("patient", "patient__home_site", "payer").order_by("patient__mrn"))
        self.people = [(c.patient, c) for c in coverages]
        self.resources = Resource.objects.in_bulk()
        self.sessions: dict[tuple[str, str], list] = defaultdict(list)  # open group sessions booked in this run
        self.session_size: dict[int, int] = defaultdict(int)

    # -- choices ---------------------------------------------------------------------------------------------
    def pick_person(self, rng, *, stage, variant):
        """A sandbox test member where the variant needs one (denied, pended, not in force), else anyone whose
        coverage lets the journey go on."""
        wanted = {"not-in-force": "TEST-INACTIVE", "denied": "TEST-DENY", "pended": "TEST-PEND"}.get(variant)
        if wanted:
            return rng.choice([(p, c) for p, c in self.people if c.member_id.startswith(wanted)])
        if stage in (Stage.INTAKE, Stage.COMPLETENESS):
            return rng.choice(self.people)
        return rng.choice([(p, c) for p, c in self.people if not c.member_id.startswith(("TEST-INACTIVE", "TEST-DENY"))])

    def pick_service(self, rng, *, stage, variant, payer):
        services = list(C.SERVICES)
        if stage == Stage.COMPLETENESS:
            services = [s for s in services if s.documents or C.payer_documents(payer, s.code)]
        elif stage == Stage.AUTHORIZATION or (stage == Stage.CLOSED and variant == "denied"):
            services = [s for s in services if C.prior_auth_required(payer, s.code)]
        elif variant == "manual-only":
            services = [s for s in services if not s.auto_book]
        if variant == "rescheduled":  # a place in a group session is not moved with a slot token
            services = [s for s in services if s.capacity == 1]
        return rng.choices(services, weights=[C.referral_weight(s) for s in services])[0]

    def pick_site(self, rng, service, patient) -> str:
        sites = self.cal.sites_for[service.code]
        home = patient.home_site.code if patient and patient.home_site else None
        if home in sites and rng.random() < 0.7:
            return home
        return rng.choice(sites)

    # -- steps -------------------------------------------------------------------------------------------------
    def add_documents(self, referral, kinds, clock):
        for kind in kinds:
            if kind == "clinical-notes" and int(referral.external_identifier[-6:]) % 3 == 0:
                content, name = ContentFile(b"Synthetic clinical notes for a demo referral. No real data.\n"), "notes.txt"
            else:
                content, name = ContentFile(tiny_pdf(C.DOCUMENT_KINDS[kind])), f"{kind}.pdf"
            referral_document_add(referral=referral, kind=self.ctx.document_kinds[kind], file=content,
                                  original_name=name, actor=self.ctx.actor, uploaded_at=clock.tick(0.1, 6))
            self.ctx.counts["documents"] += 1

    def book(self, referral, place: "Place", *, status=St.BOOKED, at: datetime) -> Appointment:
        service_type = self.ctx.services[place.service.code]
        site = self.ctx.sites[place.site]
        if place.session is not None:
            appointment = appointment_book(patient=referral.patient, service_type=service_type, site=site,
                                           start=place.start, join_booking=place.session, status=status,
                                           actor=self.ctx.actor, time=at)
        else:
            appointment = appointment_book(patient=referral.patient, service_type=service_type, site=site,
                                           start=place.start, resources=[self.resources[r] for r in place.slot.resource_ids],
                                           status=status, actor=self.ctx.actor, time=at)
            if place.service.capacity > 1:
                self.sessions[(place.service.code, place.site)].append(appointment.booking)
        self.session_size[appointment.booking_id] += 1
        referral_link_appointment(referral=referral, appointment=appointment, actor=self.ctx.actor, time=at)
        self.ctx.counts["appointments"] += 1
        return appointment

    def release(self, place: "Place") -> None:
        # A group session stays held while anyone else is in it: keep it busy in the calendar either way.
        if place.slot is not None and place.service.capacity == 1:
            self.cal.release(place.slot)

    def move(self, appointment, to_status, at, reason="", text=""):
        if to_status in (St.CANCELLED, St.NOSHOW, St.ENTERED_IN_ERROR):
            self.session_size[appointment.booking_id] -= 1  # an empty group session is released by the service
        return appointment_transition(appointment=appointment, to_status=to_status, actor=self.ctx.actor, time=at,
                                      reason=reason, text=text)

    def place(self, rng, service, site, *, lo: datetime, hi: datetime, target: date,
              latest_first: bool = False) -> "Place | None":
        """A place for one patient between lo and hi: an open place in a group session, or a free slot."""
        if lo >= hi:
            return None
        if service.capacity > 1:  # fill sessions to a realistic size, leaving places for the demo to book
            for session in self.sessions[(service.code, site)]:
                if lo <= session.start and session.end <= hi and 0 < self.session_size[session.pk] < service.capacity - 2:
                    return Place(service, site, session.start, session.end, session=session)
        days = days_around(target, lo.date(), hi.date())
        if latest_first:
            days.sort(reverse=True)
        slot = self.cal.find(service, site, days, rng, not_before=lo, not_after=hi, latest_first=latest_first,
                             utilization=0.6)
        return Place(service, site, slot.start_at, slot.end_at, slot=slot) if slot else None

    def past_place(self, rng, service, site, after: datetime):
        now = self.ctx.now
        lo, hi = max(after + timedelta(days=2), now - timedelta(days=58)), now - timedelta(hours=2)
        span = max(0, (hi.date() - lo.date()).days)
        return self.place(rng, service, site, lo=lo, hi=hi, target=lo.date() + timedelta(days=rng.randint(0, span)))

    def future_place(self, rng, service, site):
        now = self.ctx.now
        return self.place(rng, service, site, lo=now + timedelta(hours=max(service.notice, 20)),
                          hi=now + timedelta(days=35), target=now.date() + timedelta(days=rng.randint(2, 28)))

    def current_place(self, rng, service, site, after: datetime):
        """The latest place that has started by now: the patient is in the building (or was, recently)."""
        now = self.ctx.now
        return self.place(rng, service, site, lo=max(now - timedelta(days=4), after), latest_first=True,
                          hi=now + timedelta(minutes=service.minutes - 5), target=now.date())

    # -- one referral ----------------------------------------------------------------------------------------
    def run(self, n: int, stage: str, variant: str) -> None:
        ctx, rng, now = self.ctx, rng_for("referral", n), self.ctx.now
        practice, practitioners = rng.choice(ctx.practices)
        practitioner, practitioner_npi = rng.choice(practitioners)
        channel, priority = weighted(rng, CHANNELS), weighted(rng, PRIORITIES)
        patient, coverage = (None, None) if stage == Stage.PATIENT_MATCH else self.pick_person(rng, stage=stage,
                                                                                                variant=variant)
        payer = coverage.payer.identifier if coverage else C.PAYERS[0][0]
        service = self.pick_service(rng, stage=stage, variant=variant, payer=payer)
        requested_code = service.code
        if variant == "unknown-code":
            requested_code, service = rng.choice(["72148", "93306", "95810", "G0283"]), None
        site = self.pick_site(rng, service, patient) if service else C.HOSPITAL
        age_days = {Stage.INTAKE: (0.05, 2), Stage.PATIENT_MATCH: (0.1, 4), Stage.COMPLETENESS: (1, 12),
                    Stage.ELIGIBILITY: (0.3, 5), Stage.AUTHORIZATION: (2, 15), Stage.SCHEDULING: (3, 25),
                    Stage.BOOKED: (3, 30), Stage.COMPLETED: (12, 59), Stage.CLOSED: (4, 58)}[stage]
        received = now - timedelta(days=rng.uniform(*age_days))
        clock = Clock(rng, received, now - timedelta(minutes=5))
        referral = referral_create(
            referring_organization=practice, site=ctx.sites[site], reason=rng.choice(service.reasons) if service
            else "Requested procedure code is not in our catalogue", source_channel=channel, actor=ctx.actor,
            patient=patient, service_type=ctx.services[service.code] if service else None,
            requested_code=requested_code, priority=priority,
            department=ctx.departments.get((site, service.department)) if service else None, coverage=coverage,
            referring_practitioner=practitioner, referring_practitioner_npi=practitioner_npi,
            external_identifier=referral_key(n), partner=ctx.partner if channel in ("fhir-api", "hl7v2") else None,
            received_at=received)
        ctx.counts["referrals"] += 1
        if stage in (Stage.INTAKE, Stage.PATIENT_MATCH):
            return
        set_stage = self._stage_setter(referral, clock)

        # Completeness: the documents the service and the payer ask for.
        required = list(dict.fromkeys(service.documents + C.payer_documents(payer, service.code)))
        if stage == Stage.CLOSED and variant == "duplicate":
            referral_revoke(referral=referral, actor=ctx.actor, time=clock.tick(1, 20),
                            reason="Duplicate of a referral already in progress")
            return
        if stage == Stage.COMPLETENESS or (required and rng.random() < 0.3):
            have = required[: rng.randrange(len(required))] if required else []
            self.add_documents(referral, have, clock)
            missing = [C.DOCUMENT_KINDS[k].lower() for k in required if k not in have]
            set_stage(Stage.COMPLETENESS, "Missing: " + ", ".join(missing) + "; referrer contacted" if missing else "")
            if stage == Stage.COMPLETENESS:
                return
            self.add_documents(referral, [k for k in required if k not in have], clock)
        else:
            self.add_documents(referral, required, clock)
        if stage == Stage.CLOSED and variant == "declined":
            referral_revoke(referral=referral, actor=ctx.actor, time=clock.tick(2, 48),
                            reason="Patient declined the referral when contacted")
            return

        # Eligibility.
        set_stage(Stage.ELIGIBILITY, "Eligibility check requested from the payer")
        inactive = coverage.member_id.startswith("TEST-INACTIVE") or variant == "not-in-force"
        if stage == Stage.ELIGIBILITY and variant == "waiting":
            return
        if stage == Stage.ELIGIBILITY and variant == "unreachable":
            eligibility_record(coverage=coverage, outcome=EligibilityCheck.Outcome.UNREACHABLE,
                               source=EligibilityCheck.Source.PAYER_API, actor=ctx.actor, checked_at=clock.tick(0.1, 2),
                               note="Payer endpoint timed out after 3 attempts")
            set_stage(Stage.ELIGIBILITY, "Payer unreachable; verify eligibility by phone")
            return
        eligibility_record(coverage=coverage, source=EligibilityCheck.Source.PAYER_API, actor=ctx.actor,
                           outcome=EligibilityCheck.Outcome.NOT_IN_FORCE if inactive else EligibilityCheck.Outcome.IN_FORCE,
                           checked_at=clock.tick(0.1, 6), payer_reference=f"ELG-{n:06d}")
        ctx.counts["eligibility checks"] += 1
        if inactive:
            if stage == Stage.CLOSED:
                referral_revoke(referral=referral, actor=ctx.actor, time=clock.tick(24, 96),
                                reason="Coverage not in force; patient declined self-pay")
            else:
                set_stage(Stage.ELIGIBILITY, "Coverage not in force; call the patient for current insurance")
            return

        # Prior authorization where this payer's rule asks for it.
        if C.prior_auth_required(payer, service.code):
            set_stage(Stage.AUTHORIZATION, f"Prior authorization required by {coverage.payer.name}")
            if not self.authorize(referral, coverage, service, clock, rng, stage=stage, variant=variant, n=n):
                if stage == Stage.CLOSED:
                    referral_revoke(referral=referral, actor=ctx.actor, time=clock.tick(24, 120),
                                    reason="Authorization denied; appeal not pursued")
                return

        # Scheduling and booking.
        manual = not service.auto_book
        set_stage(Stage.SCHEDULING, "Scheduler to book: service is not booked automatically" if manual
                  else "Looking for a slot")
        self.schedule(referral, service, site, clock, rng, stage=stage, variant=variant)

    def _stage_setter(self, referral, clock):
        def set_stage(stage, reason=""):
            referral_set_stage(referral=referral, stage=stage, reason=reason, actor=self.ctx.actor, time=clock.tick())
        return set_stage

    def authorize(self, referral, coverage, service, clock, rng, *, stage, variant, n) -> bool:
        """Create, submit and (maybe) decide; True when the referral may go on to scheduling."""
        ctx = self.ctx
        urgent = referral.priority in ("asap", "stat")
        auth = authorization_create(coverage=coverage, service_type=ctx.services[service.code], actor=ctx.actor,
                                    urgency="expedited" if urgent else "standard", time=clock.tick(0.1, 4))
        referral_link_authorization(referral=referral, authorization=auth, actor=ctx.actor, time=clock.t)
        ctx.counts["authorizations"] += 1
        auth = authorization_mark_submitted(authorization=auth, actor=ctx.actor, submitted_at=clock.tick(0.2, 8),
                                            payer_tracking_id=f"PAS-{coverage.payer.sandbox_key.upper()}-{n:06d}")
        member = coverage.member_id
        if stage == Stage.AUTHORIZATION and variant == "submitted" and not member.startswith(("TEST-PEND", "TEST-DENY")):
            return False
        pend = member.startswith("TEST-PEND") or variant == "pended" or rng.random() < 0.15
        deny = member.startswith("TEST-DENY") or variant == "denied"
        if pend or deny and rng.random() < 0.3:
            authorization_record_decision(authorization=auth, decision_code="A4", actor=ctx.actor,
                                          decided_at=clock.tick(4, 60))
            if stage == Stage.AUTHORIZATION and variant != "denied":
                referral_set_stage(referral=referral, stage=Stage.AUTHORIZATION, actor=ctx.actor, time=clock.t,
                                   reason="Pended by the payer: additional clinical information requested")
                return False
        decided = clock.tick(4, 72)
        if deny:
            authorization_record_decision(authorization=auth, decision_code="A3", actor=ctx.actor, decided_at=decided,
                                          denial_reason="Medical necessity not established by the documentation")
            if stage == Stage.AUTHORIZATION:
                referral_set_stage(referral=referral, stage=Stage.AUTHORIZATION, actor=ctx.actor, time=clock.t,
                                   reason="Denied (A3): decide on peer-to-peer review or appeal")
            return False
        authorization_record_decision(
            authorization=auth, decision_code="A1", actor=ctx.actor, decided_at=decided,
            auth_number=f"AUTH-{coverage.payer.sandbox_key.upper()}-{n:06d}", valid_from=decided.date(),
            valid_to=decided.date() + timedelta(days=90))
        return True

    def schedule(self, referral, service, site, clock, rng, *, stage, variant) -> None:
        ctx, now = self.ctx, self.ctx.now
        if stage == Stage.SCHEDULING and variant in ("after-noshow", "after-provider-cancel"):
            place = self.past_place(rng, service, site, clock.t)
            if place is not None:
                appointment = self.book(referral, place, at=clock.tick(1, 48))
                if variant == "after-noshow":
                    self.move(appointment, St.NOSHOW, place.start + timedelta(minutes=20))
                    reason = "Patient did not attend; rebook"
                else:
                    self.move(appointment, St.CANCELLED, between(rng, clock.t, place.start),
                              reason="provider", text="Clinician called away; the clinic cancelled")
                    reason = "Cancelled by the clinic; rebook with priority"
                self.release(place)
                referral_set_stage(referral=referral, stage=Stage.SCHEDULING, reason=reason, actor=ctx.actor,
                                   time=min(place.end + timedelta(hours=1), now - timedelta(minutes=1)))
            return
        if stage == Stage.SCHEDULING:
            return
        if stage in (Stage.COMPLETED, Stage.CLOSED):
            place = self.past_place(rng, service, site, clock.t)
            if place is None:
                referral_revoke(referral=referral, actor=ctx.actor, time=clock.tick(24, 72),
                                reason="No capacity within the window; referred elsewhere")
                return
            booked_at = Clock(rng, clock.t, place.start - timedelta(hours=1)).tick(2, 96)
            appointment = self.book(referral, place, at=booked_at)
            if stage == Stage.CLOSED:
                if variant == "noshow":
                    self.move(appointment, St.NOSHOW, place.start + timedelta(minutes=20))
                    reason = "Patient did not attend and did not respond to two calls"
                else:
                    self.move(appointment, St.CANCELLED, between(rng, booked_at, place.start),
                              reason="patient", text="Patient no longer needs the appointment")
                    reason = "Patient cancelled; care no longer needed"
                self.release(place)
                referral_revoke(referral=referral, actor=ctx.actor, reason=reason,
                                time=min(place.end + timedelta(hours=rng.uniform(2, 48)), now - timedelta(minutes=1)))
                return
            first = St.CHECKED_IN if variant == "checked-in" else St.ARRIVED
            self.move(appointment, first, place.start - timedelta(minutes=rng.randint(5, 20)))
            self.move(appointment, St.FULFILLED, place.end)
            # referral_set_stage refuses to move a referral out of BOOKED (it is not an open stage), so a referral
            # whose patient has been seen goes from scheduling straight to completed.
            referral_set_stage(referral=referral, stage=Stage.COMPLETED, actor=ctx.actor, reason="Visit fulfilled",
                               time=min(place.end + timedelta(hours=rng.uniform(1, 30)), now - timedelta(minutes=1)))
            return
        # Booked: a future appointment, or one happening about now.
        if variant in ("cancelled-then-booked", "error-then-booked", "rescheduled"):
            first_place = self.future_place(rng, service, site)
            if first_place is not None:
                appointment = self.book(referral, first_place, at=clock.tick(1, 24))
                if variant == "rescheduled":
                    referral_set_stage(referral=referral, stage=Stage.BOOKED, actor=ctx.actor, time=clock.tick(0.1, 1))
                    if self.reschedule(appointment, rng, service, site):
                        self.release(first_place)
                    return
                if variant == "error-then-booked":
                    self.move(appointment, St.ENTERED_IN_ERROR, clock.tick(0.1, 2))
                else:
                    self.move(appointment, St.CANCELLED, clock.tick(2, 72), reason="patient",
                              text="Patient asked for another day")
                self.release(first_place)
        place, status = None, St.BOOKED
        if variant in ("arrived", "checked-in"):
            place = self.current_place(rng, service, site, after=clock.t + timedelta(hours=2))
        if place is None:
            place = self.future_place(rng, service, site)
            status = {"pending": St.PENDING, "proposed": St.PROPOSED}.get(variant, St.BOOKED)
        if place is None:
            referral_set_stage(referral=referral, stage=Stage.SCHEDULING, actor=ctx.actor, time=clock.tick(),
                               reason="No free slot in the coming five weeks")
            return
        booked_at = between(rng, clock.t, min(place.start - timedelta(hours=1), now - timedelta(minutes=5)))
        appointment = self.book(referral, place, status=status, at=booked_at)
        referral_set_stage(referral=referral, stage=Stage.BOOKED, actor=ctx.actor,
                           time=booked_at + timedelta(minutes=1), reason="")
        if variant in ("arrived", "checked-in") and place.start < now:
            self.move(appointment, St.CHECKED_IN if variant == "checked-in" else St.ARRIVED,
                      min(place.start - timedelta(minutes=10), now - timedelta(minutes=1)))

    def reschedule(self, appointment, rng, service, site) -> bool:
        """Move the appointment to another free slot through the slot token the scheduling engine hands out; the
        engine re-checks the bundle against shifts, opening hours and bookings. (Its events are stamped now.)"""
        place = self.future_place(rng, service, site)
        if place is None or place.slot is None:
            return False
        token = Candidate(service_type_id=self.ctx.services[service.code].pk, site_id=self.ctx.sites[site].pk,
                          start=place.start, end=place.end, staff_resource_id=None, room_resource_id=None,
                          equipment_resource_ids=tuple(place.slot.resource_ids)).token
        try:
            appointment_reschedule(appointment=appointment, token=token, actor=self.ctx.actor, reason="patient",
                                   text="Patient asked for a later day")
        except DomainError:
            self.release(place)
            self.ctx.counts["reschedule refused"] += 1
            return False
        self.ctx.counts["appointments"] += 1
        return True


@dataclass
class Place:
    """Where and when one patient can be seen: a new booking of `slot`, or a place in a group `session`."""

    service: C.Service
    site: str
    start: datetime
    end: datetime
    slot: Slot | None = None
    session: object | None = None


def seed_base_referrals(ctx: SeedContext) -> None:
    existing = set(Referral.objects.filter(external_identifier__startswith="DEMO-REF-")
                   .values_list("external_identifier", flat=True))
    plan = stage_plan()
    if all(referral_key(n) in existing for n in range(1, len(plan) + 1)):
        return
    journeys = BaseJourneys(ctx)
    for n, (stage, variant) in enumerate(plan, start=1):
        if referral_key(n) in existing:
            continue
        # One savepoint per referral: a referral is seeded whole or not at all.
        with transaction.atomic():
            journeys.run(n, stage, variant)
    # After every cancellation above, so no waitlist offer is made while the base referrals are laid out.
    seed_waitlist(ctx)


def seed_waitlist(ctx: SeedContext) -> None:
    """A few patients waiting for an earlier slot (holding a later one) or for any slot at all."""
    from scheduling.models import WaitlistEntry
    from scheduling.waitlist import waitlist_add

    keys = [referral_key(n) for n in range(1, BASE_REFERRALS + 1)]
    referrals = (Referral.objects.filter(external_identifier__in=keys, stage__in=[Stage.BOOKED, Stage.SCHEDULING],
                                         service_type__auto_book=True, patient__isnull=False)
                 .select_related("patient", "service_type", "site").order_by("external_identifier"))
    taken = {"booked": 0, "scheduling": 0}
    for referral in referrals:
        n = int(referral.external_identifier.rsplit("-", 1)[1])
        if n % 3 or taken[referral.stage] >= (8 if referral.stage == Stage.BOOKED else 4):
            continue
        taken[referral.stage] += 1
        if WaitlistEntry.objects.filter(patient=referral.patient, service_type=referral.service_type).exists():
            continue
        current = (referral.appointments.filter(status__in=[St.BOOKED, St.PENDING], start__gt=ctx.now)
                   .order_by("start").first())
        if referral.stage == Stage.BOOKED and current is None:
            continue
        rng = rng_for("waitlist", n)
        waitlist_add(patient=referral.patient, service_type=referral.service_type, actor=ctx.actor,
                     sites=[referral.site], time_of_day=rng.choice(["any", "any", "morning", "afternoon"]),
                     weekdays=sorted(rng.sample(range(5), 3)) if rng.random() < 0.3 else [],
                     priority=Referral.PRIORITY_RANK.get(referral.priority, 0), current_appointment=current)
        ctx.counts["waitlist entries"] += 1
