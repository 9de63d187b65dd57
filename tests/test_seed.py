"""seed_demo: volumes, every stage and status, the public contract for every payer, idempotency, --scale, demo users."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from authorizations.models import Authorization, Coverage, EligibilityCheck, Payer, PayerRule
from healthops import permissions
from healthops.models import Event, Organization, Patient, Resource, Site
from healthops.seed.names import load_name_pool, npi, strip_synthea_digits, tiny_pdf
from referrals.models import Referral, ReferralDocument
from scheduling.models import Appointment, BookedResource, Equipment, Room, ServiceType
from scheduling.slots import find_slots
from staffing.models import Credential, Shift, StaffMember, TimeOff

pytestmark = pytest.mark.django_db

COUNTED = [Organization, Site, StaffMember, Shift, Room, Equipment, ServiceType, Payer, PayerRule, Patient, Coverage,
           Referral, ReferralDocument, EligibilityCheck, Authorization, Appointment, BookedResource, Event]


# A Wednesday a few days before a daylight-saving change, so no run of this module straddles the seed's week
# boundary and local-time shifts are exercised across the change.
NOW = datetime(2030, 3, 6, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """One seed for the whole module (it takes seconds), rolled back at the end; each test's own transaction nests
    inside, so what a test adds (a second run, --scale 2) is undone after it."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media), ALLOW_DEMO_USERS=True), \
            time_machine.travel(NOW, tick=True):
        with transaction.atomic():
            out = StringIO()
            call_command("seed_demo", stdout=out)
            yield out.getvalue()
            transaction.set_rollback(True)


def run_seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def assert_bookings_sound():
    """Every held resource: no overlap, the right kind at the right site, staff of the right role on shift."""
    held = (BookedResource.objects.filter(active=True)
            .select_related("booking__service_type", "resource__staff_member", "resource__room", "resource__equipment"))
    by_resource = defaultdict(list)
    shifts = defaultdict(list)
    for staff_id, site_id, start, end in Shift.objects.values_list("staff_id", "site_id", "start", "end"):
        shifts[staff_id].append((site_id, start, end))
    for h in held:
        by_resource[h.resource_id].append((h.start, h.end))
        service, site_id, resource = h.booking.service_type, h.booking.site_id, h.resource
        if resource.kind == Resource.Kind.STAFF:
            member = resource.staff_member
            assert member.role == service.staff_role
            assert any(s == site_id and a <= h.start and h.end <= b for s, a, b in shifts[member.pk]), h
        elif resource.kind == Resource.Kind.ROOM:
            assert (resource.room.kind_id, resource.room.site_id) == (service.room_kind_id, site_id)
        else:
            assert resource.equipment.site_id == site_id
            assert service.equipment_kinds.filter(pk=resource.equipment.kind_id).exists()
    for intervals in by_resource.values():
        intervals.sort()
        assert all(b[0] >= a[1] for a, b in zip(intervals, intervals[1:], strict=False)), "overlapping bookings"


def test_network_reference_data(seeded):
    assert seeded.startswith("Seeded HealthOps demo network:") and " in " in seeded
    assert Organization.objects.filter(kind=Organization.Kind.NETWORK).exists()
    assert Organization.objects.filter(kind=Organization.Kind.PRACTICE).count() >= 8
    kinds = sorted(Site.objects.values_list("kind", flat=True))
    assert kinds.count("hospital") == 1 and kinds.count("clinic") >= 3 and kinds.count("imaging") == 1
    assert Site.objects.filter(kind="clinic", time_zone="America/Denver").exists()
    assert all(site.departments.exists() for site in Site.objects.all())

    payers = Payer.objects.all()
    assert payers.count() >= 5
    assert all(p.identifier.startswith("PAYER-") and p.sandbox_key and p.phone for p in payers)
    services = ServiceType.objects.all()
    assert services.count() >= 20
    assert PayerRule.objects.count() == payers.count() * services.count()
    assert PayerRule.objects.filter(prior_auth_required=True, service_type__code="mri-brain").count() == payers.count()
    assert PayerRule.objects.filter(prior_auth_required=False).exists()
    assert PayerRule.objects.filter(required_documents__isnull=False).exists()

    assert services.filter(capacity__gt=1).exists()
    assert services.filter(auto_book=True).exists() and services.filter(auto_book=False).exists()
    assert services.filter(required_documents__isnull=False).exists()
    assert services.filter(required_credential__isnull=False).exists()
    wanted = set(services.values_list("required_documents__code", flat=True))
    wanted |= set(PayerRule.objects.values_list("required_documents__code", flat=True))
    assert {"referral-letter", "clinical-notes", "imaging-order", "lab-results", "insurance-card", "consent-form"} <= wanted

    assert Room.objects.count() >= 20 and Room.objects.filter(resource__kind=Resource.Kind.ROOM).count() == Room.objects.count()
    assert {"exam-room", "mri-suite", "ct-room", "ultrasound-room", "infusion-bay", "procedure-room", "therapy-gym",
            "sleep-lab"} <= set(Room.objects.values_list("kind__code", flat=True))
    assert Equipment.objects.count() >= 10
    assert {"mri-scanner", "ct-scanner", "ultrasound-machine", "infusion-chair", "ecg-machine", "sleep-study-kit"} <= set(
        Equipment.objects.values_list("kind__code", flat=True))


def test_staff_credentials_and_shifts(seeded):
    now = timezone.now()
    staff = StaffMember.objects.select_related("resource")
    assert staff.count() >= 40
    assert all(m.resource.kind == Resource.Kind.STAFF and m.hourly_cost > 0 and m.cost_centre for m in staff)
    assert {s.staff_role for s in ServiceType.objects.all()} <= set(staff.values_list("role", flat=True))
    assert Credential.objects.filter(expires_on__lte=now.date() + timedelta(days=30), expires_on__gte=now.date()).exists()
    upcoming = Shift.objects.filter(start__gte=now, start__lt=now + timedelta(weeks=6))
    assert upcoming.values("staff").distinct().count() == staff.count()
    assert upcoming.filter(start__date__gte=(now + timedelta(days=38)).date()).exists()
    imaging = [s.start.astimezone(s.site.tz) for s in upcoming.filter(site__kind="imaging").select_related("site")]
    assert any(start.weekday() >= 5 for start in imaging), "weekend imaging shifts"
    assert any(start.hour >= 13 for start in imaging), "evening imaging shifts"
    assert TimeOff.objects.exists()


def test_patients_and_coverage(seeded):
    patients = Patient.objects.all()
    assert patients.count() >= 300
    assert not patients.filter(home_site__isnull=True).exists()
    assert not patients.filter(coverages__isnull=True).exists()
    assert all(not any(c.isdigit() for c in p.given_name + p.family_name) for p in patients)
    assert all(p.email.endswith("@example.org") and "555-01" in p.phone for p in patients)
    years = [p.birth_date.year for p in patients]
    assert min(years) >= 1940 and max(years) <= 2020 and max(years) - min(years) > 50
    members = set(Coverage.objects.values_list("member_id", flat=True))
    assert {"TEST-ACTIVE-0001", "TEST-PEND-0001", "TEST-DENY-0001", "TEST-INACTIVE-0001"} <= members
    assert any(m.startswith("MBR-") for m in members)


def test_every_stage_status_and_authorization_state(seeded):
    now = timezone.now()
    referrals = Referral.objects.all()
    assert referrals.count() >= 200
    assert set(referrals.values_list("stage", flat=True)) == set(Referral.Stage.values)
    assert not referrals.filter(stage=Referral.Stage.PATIENT_MATCH, patient__isnull=False).exists()
    assert not referrals.filter(received_at__lt=now - timedelta(days=60)).exists()
    assert not referrals.filter(received_at__gt=now).exists()
    assert len(set(referrals.values_list("priority", flat=True))) >= 3
    assert len(set(referrals.values_list("source_channel", flat=True))) >= 4
    statuses = set(Appointment.objects.values_list("status", flat=True))
    assert statuses == set(Appointment.Status.values) - {Appointment.Status.WAITLIST}
    assert Appointment.objects.filter(status="cancelled").exclude(cancel_reason="").count() == \
        Appointment.objects.filter(status="cancelled").count()
    assert Appointment.objects.filter(status__in=["fulfilled", "noshow"], start__gte=now).count() == 0
    assert Appointment.objects.filter(status__in=["booked", "pending"], start__gt=now).exists()
    assert {"submitted", "pended", "approved", "denied"} <= set(Authorization.objects.values_list("status", flat=True))
    assert ReferralDocument.objects.exists() and EligibilityCheck.objects.exists()
    assert Appointment.objects.filter(referral_link__isnull=True).count() == 0
    # Events are backdated along each journey, never in the future.
    assert Event.objects.filter(type="org.healthops.referral.received.v1").count() == referrals.count()
    assert Event.objects.filter(time__lt=now - timedelta(days=30)).exists()
    assert not Event.objects.filter(time__gt=now + timedelta(minutes=1)).exists()


def test_appointments_hold_qualified_resources_without_overlap(seeded):
    assert BookedResource.objects.filter(active=True).exists()
    assert_bookings_sound()


def test_public_contract_for_every_payer(seeded):
    """For every payer: (a) auto-bookable, no documents, no prior auth; (b) auto-bookable, no documents, prior auth;
    (c) booked by a person, no documents; each with free slots over the coming weeks."""
    now = timezone.now()
    services = {s.pk: s for s in ServiceType.objects.prefetch_related("required_documents", "equipment_kinds")}
    free: dict[int, int] = {}

    def has_capacity(service) -> bool:
        if service.pk not in free:
            free[service.pk] = len(find_slots(service_type=service, start=now, end=now + timedelta(weeks=4), limit=10))
        return free[service.pk] >= 10

    for payer in Payer.objects.all():
        kinds = {"a": [], "b": [], "c": []}
        for rule in PayerRule.objects.filter(payer=payer).prefetch_related("required_documents"):
            service = services[rule.service_type_id]
            if service.required_documents.all() or rule.required_documents.all():
                continue
            if service.auto_book and not rule.prior_auth_required:
                kinds["a"].append(service)
            if service.auto_book and rule.prior_auth_required:
                kinds["b"].append(service)
            if not service.auto_book:
                kinds["c"].append(service)
        for kind, candidates in kinds.items():
            assert any(has_capacity(s) for s in candidates), f"{payer.identifier}: no ({kind}) service with free slots"


def test_open_referrals_are_in_the_flow_with_their_first_tasks(seeded):
    from referrals.models import WorkItem

    open_referrals = Referral.objects.filter(stage__in=Referral.OPEN_STAGES)
    assert open_referrals.exists() and not open_referrals.filter(process__isnull=True).exists()
    opened = set(WorkItem.objects.filter(completed_at__isnull=True).values_list("task_type", flat=True))
    assert {"patient_match", "outreach", "triage"} <= opened


def test_second_run_changes_nothing(seeded):
    before = row_counts()
    out = run_seed()
    assert out.startswith("Demo network already seeded; nothing changed")
    assert row_counts() == before


def test_scale_two_roughly_doubles_and_is_idempotent(seeded):
    referrals, patients = Referral.objects.count(), Patient.objects.count()
    events, appointments = Event.objects.count(), Appointment.objects.count()
    out = run_seed("--scale", "2", "--no-users")
    assert out.startswith("Seeded HealthOps demo network:")
    assert 1.8 <= Referral.objects.count() / referrals <= 2.2
    assert 1.8 <= Patient.objects.count() / patients <= 2.2
    assert 1.5 <= Appointment.objects.count() / appointments <= 2.5
    assert 1.5 <= Event.objects.count() / events <= 2.5
    assert set(Referral.objects.values_list("stage", flat=True)) == set(Referral.Stage.values)
    assert not Referral.objects.filter(received_at__gt=timezone.now()).exists()
    assert_bookings_sound()
    # The bulk history carries the human work the flow would have recorded: a scheduling task for every booking of a
    # service booked by a person, follow-up tasks for authorizations the payer pended first.
    from healthops.seed.journeys import BASE_REFERRALS, referral_key

    bulk = Referral.objects.filter(external_identifier__gt=referral_key(BASE_REFERRALS), appointments__isnull=False,
                                   service_type__auto_book=False).distinct()
    assert bulk.exists()
    for referral in bulk[:20]:
        kinds = [e.data["task_type"] for e in Event.objects.filter(subject=referral.subject, type__contains=".task.")]
        assert kinds.count("schedule") == 2, kinds  # created and completed
    assert Event.objects.filter(type__contains="task.completed", data__task_type="auth_follow_up").exists()
    # The dashboards' rollup folds that history (its task ids are numbers, as the facts keep them).
    from dashboards.facts import refresh_facts
    from dashboards.models import TaskFact

    refresh_facts(full=True)
    assert TaskFact.objects.filter(referral__in=bulk, task_type="schedule", task_id__lt=0).exists()
    before = row_counts()
    assert run_seed("--scale", "2", "--no-users").startswith("Demo network already seeded")
    assert row_counts() == before


def test_demo_users_roles_and_site_scoping(seeded):
    User = get_user_model()
    hospital = Site.objects.get(kind="hospital")
    all_sites = set(Site.objects.values_list("pk", flat=True))
    for username, role in [("coordinator", "coordinator"), ("scheduler", "scheduler"),
                           ("authspecialist", "authspecialist"), ("manager", "manager"), ("admin", "admin"),
                           ("coordinator2", "coordinator")]:
        user = User.objects.get(username=username)
        assert user.check_password("healthops-demo")
        assert role in permissions.roles_of(user)
        assert user.profile is not None
        sites = permissions.site_ids_for(user)
        if role in ("manager", "admin"):
            assert sites is None
        elif username == "coordinator2":
            assert len(sites) == 1 and hospital.pk not in sites
        else:
            assert hospital.pk in sites and 2 <= len(sites) < len(all_sites)
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    coordinator2_site = User.objects.get(username="coordinator2").profile.sites.get()
    assert coordinator2_site.kind == "clinic"
    assert coordinator2_site.pk not in permissions.site_ids_for(User.objects.get(username="coordinator"))


def test_demo_users_refused_unless_allowed(seeded, settings):
    settings.ALLOW_DEMO_USERS = False
    with pytest.raises(CommandError, match="ALLOW_DEMO_USERS"):
        run_seed()
    assert run_seed("--no-users").startswith("Demo network already seeded")


def test_scale_must_be_a_positive_whole_number():
    with pytest.raises(CommandError, match="at least 1"):
        run_seed("--scale", "0")


def test_names_come_from_synthea_without_its_digits(tmp_path):
    assert strip_synthea_digits("Jacinto644") == "Jacinto"
    (tmp_path / "patients.csv").write_text("Id,FIRST,LAST,GENDER\n1,Maynard46,Mosciski958,M\n2,Tess185,Ryan260,F\n")
    pool = load_name_pool(tmp_path)
    assert pool.male == ("Maynard",) and pool.female == ("Tess",) and pool.family == ("Mosciski", "Ryan")
    fallback = load_name_pool(tmp_path / "missing")
    assert len(fallback.female) + len(fallback.male) >= 40 and len(fallback.family) >= 40


def test_synthetic_identifiers_and_documents_are_valid():
    pdf = tiny_pdf("Referral letter")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF") and b"startxref" in pdf
    number = npi(101)
    digits = [int(c) for c in "80840" + number]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
    assert len(number) == 10 and total % 10 == 0
