"""The work queues over HTTP: perspectives per role, scoping, filters, urgency order, query counts, claiming and
assigning, holds, and every task type's action moving the ReferralFlow on (payer sandbox over HTTP, jobs inline)."""

import re
from datetime import date, timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from authorizations.models import Authorization, PayerRule
from authorizations.services import coverage_create
from healthops.audit import system_user
from healthops.models import Event
from referrals.models import Referral, WorkItem
from referrals.services import referral_create
from referrals.work import referral_start_flow, release_due_holds, task_claim, task_hold

from .. import factories

pytestmark = pytest.mark.django_db
QUEUE = reverse("queues:index")


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch, settings, tmp_path):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def network(north, sandbox, settings):
    factories.point_at_sandbox(settings, sandbox)
    service = factories.bookable_clinic(north, auto_book=True)
    return {"site": north, "service": service, "payer": factories.payer(), "sandbox": sandbox}


def referral_for(network, member, *, prior_auth=False, auto_book=True, documents=(), rule=True, **kw):
    # A service of its own when documents are required, so the other referrals of a test need none.
    service = factories.service_type(name="Knee MRI", min_notice_hours=1) if documents else network["service"]
    if rule:
        PayerRule.objects.update_or_create(payer=network["payer"], service_type=service,
                                           defaults={"prior_auth_required": prior_auth})
    service.auto_book = auto_book
    service.save()
    for code in documents:
        service.required_documents.add(factories.document_kind(code))
    patient = factories.patient(network["site"], phone="555-0100")
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id=member,
                               period_start=date(2026, 1, 1), actor=system_user())
    return factories.referral(network["site"], patient, service, coverage=coverage, **kw)


def unmatched(at, service=None, **kw) -> Referral:
    """A referral without a patient: its flow stops at once in a patient match task (no payer call)."""
    return referral_create(referring_organization=factories.organization(), site=at, reason="Rash",
                           source_channel="web", actor=system_user(), service_type=service, **kw)


def run(referral, capture):
    with capture(execute=True):
        referral_start_flow(referral=referral)
    referral.refresh_from_db()
    return referral


def item_of(referral, task_type=None) -> WorkItem:
    items = WorkItem.objects.filter(referral=referral, completed_at__isnull=True)
    if task_type:
        items = items.filter(task_type=task_type)
    return items.select_related("task").get()


def act(client, capture, item, action, data=None, **extra):
    with capture(execute=True):
        return client.post(reverse("queues:act", args=[item.task_id, action]), data or {}, **extra)


def rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-task="(\d+)"', response.content.decode())]


def tab(client, name, **params) -> list[int]:
    response = client.get(QUEUE, {"tab": name, **params})
    assert response.status_code == 200, response.content.decode()[:500]
    return rows(response)


# Perspectives, scoping, filters, order


@pytest.fixture
def cases(network, django_capture_on_commit_callbacks):
    """One north referral waiting in each of four queues."""
    capture = django_capture_on_commit_callbacks
    return {
        "outreach": run(referral_for(network, "TEST-ACTIVE-1", documents=["imaging-order"]), capture),
        "schedule": run(referral_for(network, "TEST-ACTIVE-2", auto_book=False), capture),
        "denial": run(referral_for(network, "TEST-DENY-1", prior_auth=True), capture),
        "verify": run(referral_for(network, "TEST-INACTIVE-1"), capture),
    }


def task_ids(cases, *names) -> list[int]:
    return sorted(item_of(cases[name]).task_id for name in names)


@pytest.mark.parametrize("who, expected", [
    ("coordinator", ["outreach", "verify"]),
    ("scheduler", ["schedule"]),
    ("authspecialist", ["denial", "verify"]),
    ("manager", ["denial", "outreach", "schedule", "verify"]),
])
def test_team_queue_lists_what_each_role_may_work(client, cases, request, who, expected):
    client.force_login(request.getfixturevalue(who))
    assert sorted(tab(client, "team")) == task_ids(cases, *expected)
    assert tab(client, "mine") == []


def test_my_tasks_on_hold_at_risk_and_done(client, cases, coordinator, manager, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    outreach, verify = item_of(cases["outreach"]), item_of(cases["verify"])
    task_claim(task=outreach.task, actor=coordinator)
    assert tab(client, "mine") == [outreach.task_id]
    assert tab(client, "team") == [verify.task_id]
    task_hold(task=verify.task, actor=coordinator, until=timezone.now() + timedelta(days=2))
    assert tab(client, "held") == [verify.task_id] and tab(client, "team") == []
    assert tab(client, "risk") == []
    WorkItem.objects.filter(pk=outreach.pk).update(due_at=timezone.now() + timedelta(hours=3))
    assert tab(client, "risk") == [outreach.task_id]
    act(client, django_capture_on_commit_callbacks, outreach, "documents_received")
    assert tab(client, "done") == [outreach.task_id]
    client.force_login(manager)  # leads see everyone's done work and every escalated task
    assert outreach.task_id in tab(client, "done")
    WorkItem.objects.filter(pk=item_of(cases["schedule"]).pk).update(escalated_at=timezone.now())
    assert item_of(cases["schedule"]).task_id in tab(client, "risk")


def test_counts_on_the_tabs(client, cases, coordinator):
    client.force_login(coordinator)
    body = client.get(QUEUE, {"tab": "team"}).content.decode()
    assert re.search(r'data-tab="team"[^>]*>Team queue <span class="count">2</span>', body)
    assert re.search(r'data-tab="mine"[^>]*>My tasks <span class="count">0</span>', body)


def test_an_outsider_at_another_site_sees_none_of_it(client, cases, outsider):
    client.force_login(outsider)
    for name in ("mine", "team", "held", "risk", "done"):
        assert tab(client, name) == []
    task = item_of(cases["outreach"]).task
    assert client.get(reverse("queues:task", args=[task.pk])).status_code == 404
    assert client.post(reverse("queues:act", args=[task.pk, "claim"])).status_code == 404


def test_filters(client, network, north, manager, django_capture_on_commit_callbacks):
    other = factories.service_type(name="Other service")
    old = run(unmatched(north, network["service"], priority="urgent",
                        received_at=timezone.now() - timedelta(days=10)), django_capture_on_commit_callbacks)
    new = run(unmatched(north, other), django_capture_on_commit_callbacks)
    client.force_login(manager)
    assert tab(client, "team", age=5) == [item_of(old).task_id]
    assert tab(client, "team", priority="routine") == [item_of(new).task_id]
    assert tab(client, "team", service_type=other.pk) == [item_of(new).task_id]
    assert tab(client, "team", task_type="schedule") == []
    assert tab(client, "team", site=north.pk, task_type="patient_match") == [item_of(old).task_id, item_of(new).task_id]
    assert client.get(QUEUE, {"age": "-3"}).status_code == 400


def test_htmx_asks_for_the_queue_fragment(client, network, north, manager, django_capture_on_commit_callbacks):
    run(unmatched(north, network["service"]), django_capture_on_commit_callbacks)
    client.force_login(manager)
    response = client.get(QUEUE, {"tab": "team"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="queue">')
    assert 'hx-swap-oob="true"' in body and "<html" not in body


def test_urgency_order_priority_then_overdue_first(client, network, north, manager, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    routine_late = item_of(run(unmatched(north, network["service"]), capture))
    routine_due = item_of(run(unmatched(north, network["service"]), capture))
    stat = item_of(run(unmatched(north, network["service"], priority="stat"), capture))
    urgent = item_of(run(unmatched(north, network["service"], priority="urgent"), capture))
    WorkItem.objects.filter(pk=routine_late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    WorkItem.objects.filter(pk=routine_due.pk).update(due_at=timezone.now() + timedelta(hours=30))
    client.force_login(manager)
    assert tab(client, "team") == [stat.task_id, urgent.task_id, routine_late.task_id, routine_due.task_id]
    body = client.get(QUEUE, {"tab": "team"}).content.decode()
    assert "Most urgent first: priority (STAT, ASAP, urgent, routine)" in body


def test_dependency_risk_breaks_ties(network, north, manager, django_capture_on_commit_callbacks):
    from referrals.selectors import queue_items

    received, due = timezone.now() - timedelta(days=1), timezone.now() + timedelta(hours=10)
    plain = run(referral_for(network, "TEST-ACTIVE-7", auto_book=False, received_at=received),
                django_capture_on_commit_callbacks)
    risky = run(referral_for(network, "TEST-ACTIVE-8", auto_book=False, prior_auth=True, received_at=received),
                django_capture_on_commit_callbacks)
    Authorization.objects.filter(referrals=risky).update(valid_to=timezone.localdate() + timedelta(days=5))
    WorkItem.objects.filter(referral__in=[plain, risky]).update(due_at=due)
    order = [i.referral_id for i in queue_items(user=manager, tab="team", filters={})]
    assert order == [risky.pk, plain.pk]
    assert queue_items(user=manager, tab="team", filters={})[0].auth_expiring is True


def test_query_count_does_not_grow_with_rows(client, network, north, manager, django_capture_on_commit_callbacks,
                                             monkeypatch):
    """As many queries for one row as for a full page and more (patients, services, assignees, pages); a page of 8
    rows here, so that a few referrals fill more than one."""
    monkeypatch.setattr("referrals.queue_views.PAGE_SIZE", 8)
    client.force_login(manager)

    def make(count):
        for _ in range(count):
            referral = run(unmatched(north, network["service"]), django_capture_on_commit_callbacks)
            Referral.objects.filter(pk=referral.pk).update(patient=factories.patient(north))
        for item in WorkItem.objects.filter(task__owner__isnull=True, completed_at__isnull=True)[:count // 2]:
            task_claim(task=item.task, actor=manager)

    def queries(name: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(QUEUE, {"tab": name})
        assert response.status_code == 200 and rows(response)
        return len(ctx)

    make(2)
    client.get(QUEUE)  # the filters' reference-data choices are cached after the first page: count the pages after it
    few = {name: queries(name) for name in ("team", "mine")}
    make(20)
    assert {name: queries(name) for name in ("team", "mine")} == few
    assert len(tab(client, "team")) == 8 and len(tab(client, "mine")) == 8
    assert max(few.values()) <= 15


# Claim, release, assign, bulk


def test_claim_and_release_from_the_queue(client, cases, coordinator):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    back = f"{QUEUE}?tab=team"
    response = client.post(reverse("queues:act", args=[item.task_id, "claim"]), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert tab(client, "mine") == [item.task_id]
    assert Event.objects.filter(type__contains="task.assigned", data__task_id=item.task_id).exists()
    response = client.post(reverse("queues:act", args=[item.task_id, "release"]), {"next": f"{QUEUE}?tab=mine"})
    assert response.status_code == 302 and tab(client, "mine") == []


def test_take_the_next_task_claims_the_most_urgent(client, cases, coordinator):
    client.force_login(coordinator)
    WorkItem.objects.filter(referral=cases["verify"]).update(due_at=timezone.now() - timedelta(hours=1))
    response = client.post(reverse("queues:next"))
    verify = item_of(cases["verify"])
    assert response["Location"] == reverse("queues:task", args=[verify.task_id])
    verify.task.refresh_from_db()
    assert verify.task.owner == coordinator


def test_claim_by_another_team_is_refused(client, cases, scheduler):
    client.force_login(scheduler)
    item = item_of(cases["outreach"])
    response = client.post(reverse("queues:act", args=[item.task_id, "claim"]))
    assert response.status_code == 403 and "belongs to another team" in response.content.decode()
    item.task.refresh_from_db()
    assert item.task.owner is None


def test_only_leads_assign(client, cases, coordinator, manager):
    item = item_of(cases["outreach"])
    client.force_login(coordinator)
    response = client.post(reverse("queues:act", args=[item.task_id, "assign"]), {"assignee": coordinator.pk})
    assert response.status_code == 403
    client.force_login(manager)
    response = client.post(reverse("queues:act", args=[item.task_id, "assign"]), {"assignee": coordinator.pk})
    assert response.status_code == 302
    item.task.refresh_from_db()
    assert item.task.owner == coordinator


def test_bulk_assign_by_a_lead(client, cases, coordinator, manager):
    tasks = task_ids(cases, "outreach", "verify")
    client.force_login(coordinator)
    assert client.post(f"{QUEUE}?tab=team", {"tasks": tasks, "assignee": coordinator.pk}).status_code == 403
    client.force_login(manager)
    response = client.post(f"{QUEUE}?tab=team", {"tasks": tasks, "assignee": coordinator.pk})
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?tab=team"
    client.force_login(coordinator)
    assert sorted(tab(client, "mine")) == tasks


def test_bulk_assign_is_all_or_nothing(client, cases, coordinator, manager):
    tasks = task_ids(cases, "outreach", "schedule")  # a coordinator cannot work the schedule task
    client.force_login(manager)
    response = client.post(f"{QUEUE}?tab=team", {"tasks": tasks, "assignee": coordinator.pk})
    assert response.status_code == 400
    assert "Nothing was assigned" in response.content.decode() and "cannot work this kind of task" in response.content.decode()
    assert WorkItem.objects.filter(task_id__in=tasks, task__owner__isnull=False).count() == 0
    response = client.post(f"{QUEUE}?tab=team", {"tasks": [], "assignee": coordinator.pk})
    assert response.status_code == 400 and "Select the tasks" in response.content.decode()


def test_bulk_assign_refuses_tasks_outside_the_leads_sites(client, network, south, coordinator,
                                                          django_capture_on_commit_callbacks):
    lead = factories.user("sitelead", None, sites=[network["site"]])  # a lead at North only
    lead.user_permissions.add(*Permission.objects.filter(codename__in=["can_lead", "view_referralprocess"]))
    far = item_of(run(unmatched(south), django_capture_on_commit_callbacks))
    client.force_login(lead)
    response = client.post(QUEUE, {"tasks": [far.task_id], "assignee": coordinator.pk})
    assert response.status_code == 400 and "not at your sites" in response.content.decode()
    assert WorkItem.objects.get(pk=far.pk).task.owner is None


# Holds


def test_hold_until_a_date_then_the_schedule_releases_it(client, cases, coordinator):
    client.force_login(coordinator)
    item = item_of(cases["verify"])
    day = timezone.localdate() + timedelta(days=3)
    response = client.post(reverse("queues:act", args=[item.task_id, "hold"]), {"until": day.isoformat(), "note": "x"})
    assert response.status_code == 302
    assert tab(client, "held") == [item.task_id]
    due_before = WorkItem.objects.get(pk=item.pk).due_at
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        assert release_due_holds() == 1
    item.refresh_from_db()
    assert item.held_since is None and item.due_at > due_before
    assert tab(client, "held") == [] and item.task_id in tab(client, "team")


def test_hold_in_the_past_is_refused(client, cases, coordinator):
    client.force_login(coordinator)
    item = item_of(cases["verify"])
    response = client.post(reverse("queues:act", args=[item.task_id, "hold"]),
                           {"until": (timezone.localdate() - timedelta(days=1)).isoformat()})
    assert response.status_code == 400
    assert WorkItem.objects.get(pk=item.pk).held_since is None


def test_hold_until_the_referrer_sends_documents(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    assert act(client, django_capture_on_commit_callbacks, item, "hold", {"until_documents": "on"}).status_code == 302
    assert WorkItem.objects.get(pk=item.pk).hold_event == "referral.document-added"
    assert tab(client, "held") == [item.task_id]
    response = act(client, django_capture_on_commit_callbacks, item, "upload",
                   {"kind": factories.document_kind("imaging-order").pk,
                    "file": SimpleUploadedFile("order.pdf", b"%PDF-1.4 order", content_type="application/pdf")})
    assert response.status_code == 302
    assert WorkItem.objects.get(pk=item.pk).held_since is None
    assert tab(client, "held") == [] and item.task_id in tab(client, "team")


# Each task type's action, through its HTTP endpoint


def test_patient_match_by_search(client, network, north, coordinator, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    PayerRule.objects.create(payer=network["payer"], service_type=network["service"], prior_auth_required=False)
    referral = run(unmatched(north, network["service"]), capture)
    patient = factories.patient(north, family_name="Okonkwo")
    coverage_create(patient=patient, payer=network["payer"], member_id="TEST-ACTIVE-20", period_start=date(2026, 1, 1),
                    actor=system_user())
    item = item_of(referral, "patient_match")
    client.force_login(coordinator)
    found = client.get(reverse("queues:task", args=[item.task_id]), {"q": "okonk"}, HTTP_HX_REQUEST="true")
    assert found.status_code == 200 and found.content.decode().lstrip().startswith('<div id="patient-results">')
    assert patient.mrn in found.content.decode()
    response = act(client, capture, item, "match", {"patient": patient.pk})
    assert response.status_code == 302 and response["Location"] == QUEUE
    referral.refresh_from_db()
    assert referral.patient == patient and referral.coverage.member_id == "TEST-ACTIVE-20"
    assert referral.stage == "booked", referral.stage_reason
    assert Event.objects.filter(subject=referral.subject, type__contains="referral.patient-matched").exists()


def test_patient_match_by_creating_the_patient(client, network, north, coordinator, django_capture_on_commit_callbacks):
    referral = run(unmatched(north, network["service"]), django_capture_on_commit_callbacks)
    client.force_login(coordinator)
    data = {"mrn": "MRN-NEW-1", "given_name": "Ada", "family_name": "Quist", "birth_date": "1980-02-03",
            "sex": "female", "phone": "555-0199"}
    response = act(client, django_capture_on_commit_callbacks, item_of(referral), "new_patient", data)
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.patient.mrn == "MRN-NEW-1" and referral.patient.home_site == north
    assert item_of(referral).task_type == "verify_eligibility"  # no coverage on file: a person gets the insurance


def test_patient_match_refuses_a_patient_outside_the_users_sites(client, network, north, south, coordinator,
                                                                  django_capture_on_commit_callbacks):
    referral = run(unmatched(north, network["service"]), django_capture_on_commit_callbacks)
    far = factories.patient(south)
    client.force_login(coordinator)
    response = act(client, django_capture_on_commit_callbacks, item_of(referral), "match", {"patient": far.pk})
    assert response.status_code == 400
    referral.refresh_from_db()
    assert referral.patient is None and item_of(referral).task_type == "patient_match"


def test_triage_sets_the_service(client, network, north, coordinator, django_capture_on_commit_callbacks):
    PayerRule.objects.create(payer=network["payer"], service_type=network["service"], prior_auth_required=False)
    patient = factories.patient(north)
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id="TEST-ACTIVE-60",
                               period_start=date(2026, 1, 1), actor=system_user())
    referral = run(unmatched(north, None, patient=patient, coverage=coverage, requested_code="XYZ-99"),
                   django_capture_on_commit_callbacks)
    item = item_of(referral, "triage")
    client.force_login(coordinator)
    assert "XYZ-99" in client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    assert act(client, django_capture_on_commit_callbacks, item, "service", {"service_type": 999999}).status_code == 400
    response = act(client, django_capture_on_commit_callbacks, item, "service", {"service_type": network["service"].pk})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.service_type == network["service"] and referral.stage == "booked", referral.stage_reason


def test_outreach_documents_received_moves_on(client, cases, coordinator, django_capture_on_commit_callbacks):
    capture, referral = django_capture_on_commit_callbacks, cases["outreach"]
    client.force_login(coordinator)
    item = item_of(referral)
    response = act(client, capture, item, "upload", {"kind": factories.document_kind("imaging-order").pk,
                                                     "file": SimpleUploadedFile("order.pdf", b"%PDF-1.4 order")})
    assert response.status_code == 302 and response["Location"] == reverse("queues:task", args=[item.task_id])
    response = act(client, capture, item, "documents_received", {"back": f"{QUEUE}?tab=mine"})
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?tab=mine"
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason


def test_outreach_still_missing_opens_a_new_outreach_task(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    response = act(client, django_capture_on_commit_callbacks, item, "documents_received", follow=True)
    assert "still misses Imaging Order: a new outreach task is open" in response.content.decode()
    fresh = item_of(cases["outreach"])
    assert fresh.task_type == "outreach" and fresh.pk != item.pk


def test_upload_of_a_bad_file_changes_nothing(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    response = act(client, django_capture_on_commit_callbacks, item, "upload",
                   {"kind": factories.document_kind("imaging-order").pk,
                    "file": SimpleUploadedFile("order.exe", b"MZ binary")})
    assert response.status_code == 400 and "PDF, PNG, JPEG, TIFF or plain text" in response.content.decode()
    assert not cases["outreach"].documents.exists()


def test_verify_eligibility_in_force_goes_on(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    referral = cases["verify"]
    response = act(client, django_capture_on_commit_callbacks, item_of(referral), "verify",
                   {"outcome": "in-force", "note": "Payer rep Dana, ref 8823"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason
    assert referral.coverage.eligibility_checks.filter(source="manual", outcome="in-force").exists()


def test_verify_eligibility_not_in_force_closes(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    referral = cases["verify"]
    item = item_of(referral)
    response = act(client, django_capture_on_commit_callbacks, item, "verify",
                   {"outcome": "not-in-force", "note": "Payer rep Dana, ref 8823"})
    assert response.status_code == 400 and item_of(referral).pk == item.pk  # a close reason is needed
    response = act(client, django_capture_on_commit_callbacks, item, "verify",
                   {"outcome": "not-in-force", "note": "Payer rep Dana, ref 8823", "close_reason": "Coverage ended"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "closed" and referral.status == "revoked"
    assert referral.process.status == "DONE" and not WorkItem.objects.filter(referral=referral, completed_at=None).exists()


def test_auth_determination(client, network, authspecialist, django_capture_on_commit_callbacks):
    PayerRule.objects.filter(payer=network["payer"]).delete()
    referral = run(referral_for(network, "TEST-ACTIVE-30", rule=False), django_capture_on_commit_callbacks)
    item = item_of(referral, "auth_determination")
    client.force_login(authspecialist)
    assert act(client, django_capture_on_commit_callbacks, item, "auth_needed", {"auth_needed": "maybe",
                                                                                 "note": "x"}).status_code == 400
    response = act(client, django_capture_on_commit_callbacks, item, "auth_needed",
                   {"auth_needed": "yes", "note": "Policy MED-12 says so"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.authorizations.get().status == "approved" and referral.stage == "booked"


def test_auth_follow_up_decision_by_phone(client, network, authspecialist, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    referral = run(referral_for(network, "TEST-PEND-1", prior_auth=True), capture)
    item = item_of(referral, "auth_follow_up")
    client.force_login(authspecialist)
    page = client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    assert "Ask the payer now" in page and "left" in page
    response = act(client, capture, item, "decision", {"decision_code": "A1", "auth_number": ""})
    assert response.status_code == 400 and referral.authorizations.get().status == "pended"
    today = timezone.localdate()
    response = act(client, capture, item, "decision", {
        "decision_code": "A1", "auth_number": "PA-778", "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=60)).isoformat(), "units": 2})
    assert response.status_code == 302
    referral.refresh_from_db()
    auth = referral.authorizations.get()
    assert auth.auth_number == "PA-778" and auth.units_approved == 2
    assert referral.stage == "booked", referral.stage_reason


def test_auth_follow_up_ask_the_payer(client, network, authspecialist, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    referral = run(referral_for(network, "TEST-PEND-2", prior_auth=True), capture)
    item = item_of(referral, "auth_follow_up")
    client.force_login(authspecialist)
    response = act(client, capture, item, "ask_payer", follow=True)
    assert "has not decided yet" in response.content.decode()
    network["sandbox"].post("/_control/decide", {"claim_identifier": referral.authorizations.get().claim_identifier})
    response = act(client, capture, item, "ask_payer")
    assert response.status_code == 302 and response["Location"] == QUEUE
    referral.refresh_from_db()
    assert referral.stage == "booked", referral.stage_reason


def test_auth_follow_up_override_books_before_the_decision(client, network, authspecialist, coordinator,
                                                          django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    referral = run(referral_for(network, "TEST-PEND-3", prior_auth=True, priority="stat"), capture)
    item = item_of(referral, "auth_follow_up")
    client.force_login(coordinator)  # may verify eligibility, not work authorizations
    assert act(client, capture, item, "override", {"reason_code": "clinical-urgency",
                                                   "justification": "Suspected melanoma"}).status_code == 403
    client.force_login(authspecialist)
    assert "book before the payer decides" in client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    assert act(client, capture, item, "override", {"reason_code": "clinical-urgency",
                                                   "justification": "short"}).status_code == 400
    response = act(client, capture, item, "override", {"reason_code": "clinical-urgency",
                                                       "justification": "Suspected melanoma, cannot wait"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "booked" and referral.authorizations.get().status == "pended"


def test_denial_appeal_goes_back_to_follow_up(client, cases, authspecialist, django_capture_on_commit_callbacks):
    referral = cases["denial"]
    item = item_of(referral)
    client.force_login(authspecialist)
    response = act(client, django_capture_on_commit_callbacks, item, "appeal", {"grounds": "too short"})
    assert response.status_code == 400 and item_of(referral).pk == item.pk
    response = act(client, django_capture_on_commit_callbacks, item, "appeal",
                   {"grounds": "The MRI is medically necessary: six weeks of conservative therapy failed."})
    assert response.status_code == 302
    assert item_of(referral).task_type == "auth_follow_up"
    assert referral.authorizations.get().appeals.count() == 1


def test_denial_close(client, cases, authspecialist, django_capture_on_commit_callbacks):
    referral = cases["denial"]
    client.force_login(authspecialist)
    response = act(client, django_capture_on_commit_callbacks, item_of(referral), "close",
                   {"reason": "Patient chose another provider"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "closed" and referral.process.auth_status == "closed"


def test_schedule_books_a_suggestion(client, cases, scheduler, django_capture_on_commit_callbacks):
    referral = cases["schedule"]
    item = item_of(referral)
    client.force_login(scheduler)
    page = client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    tokens = re.findall(r'name="token" value="([^"]+)"', page)
    assert tokens, "the task page offers slot suggestions"
    response = act(client, django_capture_on_commit_callbacks, item, "book", {"token": tokens[0]}, follow=True)
    referral.refresh_from_db()
    assert referral.stage == "booked" and referral.appointments.get().status == "booked"
    assert re.search(rf"R-{referral.pk} booked for \w{{3}} \w{{3}} \d+ \d\d:\d\d", response.content.decode())
    assert referral.process.status == "DONE"


def test_schedule_conflict_offers_fresh_suggestions(client, cases, network, scheduler, django_capture_on_commit_callbacks):
    referral, other = cases["schedule"], run(referral_for(network, "TEST-ACTIVE-40", auto_book=False),
                                             django_capture_on_commit_callbacks)
    client.force_login(scheduler)
    page = client.get(reverse("queues:task", args=[item_of(referral).task_id])).content.decode()
    token = re.findall(r'name="token" value="([^"]+)"', page)[0]
    assert act(client, django_capture_on_commit_callbacks, item_of(other), "book", {"token": token}).status_code == 302
    item = item_of(referral)
    response = act(client, django_capture_on_commit_callbacks, item, "book", {"token": token})
    assert response.status_code == 409
    assert 'name="token"' in response.content.decode()
    referral.refresh_from_db()
    assert referral.stage == "scheduling" and item_of(referral).pk == item.pk


def test_schedule_bad_token_is_a_400(client, cases, scheduler, django_capture_on_commit_callbacks):
    client.force_login(scheduler)
    item = item_of(cases["schedule"])
    response = act(client, django_capture_on_commit_callbacks, item, "book", {"token": "forged"})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert item_of(cases["schedule"]).pk == item.pk


def test_schedule_close_for_no_capacity(client, cases, scheduler, django_capture_on_commit_callbacks):
    referral = cases["schedule"]
    client.force_login(scheduler)
    response = act(client, django_capture_on_commit_callbacks, item_of(referral), "close",
                   {"reason": "No capacity in the next 6 weeks"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "closed" and referral.process.booked is False


def test_notify_by_phone(client, network, scheduler, django_capture_on_commit_callbacks):
    network["sandbox"].post("/_faults", {"endpoint": "messaging", "error_rate": 1.0})
    referral = referral_for(network, "TEST-ACTIVE-50")
    with pytest.raises(RuntimeError, match="patient message not sent"):  # inline jobs re-raise; .OnFailure took it
        run(referral, django_capture_on_commit_callbacks)
    item = item_of(referral, "notify_by_phone")
    failed = item.task.previous.get()  # the job's task: closed, with what went wrong on it
    assert failed.flow_task.name == "notify" and failed.status == "CANCELED"
    assert "patient message not sent" in failed.data["_exception"]["title"]
    assert not referral.process.task_set.filter(flow_task_type="EVENT").exists()  # no boundary tasks armed
    client.force_login(scheduler)
    assert "Patient informed" in client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    response = act(client, django_capture_on_commit_callbacks, item, "informed", {"note": "Spoke to the patient"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.process.status == "DONE"
    assert Event.objects.filter(subject=referral.subject, type__contains="patient-notified", data__channel="phone").exists()


def test_an_action_of_another_task_type_is_404(client, cases, coordinator):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    assert client.post(reverse("queues:act", args=[item.task_id, "book"]), {"token": "x"}).status_code == 404
    assert client.post(reverse("queues:act", args=[item.task_id, "nonsense"])).status_code == 404


def test_finished_task_refuses_actions(client, cases, coordinator, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    item = item_of(cases["outreach"])
    act(client, django_capture_on_commit_callbacks, item, "documents_received")
    response = act(client, django_capture_on_commit_callbacks, item, "documents_received")
    assert response.status_code == 409 and "already finished" in response.content.decode()


# The task page and the referral page


def test_task_page_shows_the_case(client, cases, coordinator, django_capture_on_commit_callbacks):
    referral = cases["outreach"]
    factories_doc = factories.document_kind("referral-letter")
    from referrals.services import referral_document_add

    document = referral_document_add(referral=referral, kind=factories_doc, file=SimpleUploadedFile("l.txt", b"letter"),
                                     original_name="l.txt", actor=system_user())
    item = item_of(referral)
    client.force_login(coordinator)
    act(client, django_capture_on_commit_callbacks, item, "note", {"text": "Called Dr. Rao's office, fax promised"})
    page = client.get(reverse("queues:task", args=[item.task_id])).content.decode()
    for text in ("Get the missing documents", referral.patient.mrn, "Imaging Order", "Knee MRI",
                 "Called Dr. Rao&#x27;s office, fax promised", "Documents received — continue",
                 f"/referrals/{referral.pk}/documents/{document.pk}/?inline=1", referral.coverage.member_id):
        assert text in page, text
    viewed = client.get(f"/referrals/{referral.pk}/documents/{document.pk}/?inline=1")
    assert viewed["Content-Disposition"].startswith("inline") and viewed["X-Frame-Options"] == "SAMEORIGIN"
    assert LogEntry.objects.filter(object_pk=str(document.pk), action=LogEntry.Action.ACCESS).exists()


def test_referral_page_counts_manual_touches_and_links_the_open_task(client, cases, coordinator, manager,
                                                                     django_capture_on_commit_callbacks):
    referral = cases["outreach"]
    item = item_of(referral)
    client.force_login(manager)
    act(client, django_capture_on_commit_callbacks, item, "assign", {"assignee": coordinator.pk})  # 1 touch
    client.force_login(coordinator)
    act(client, django_capture_on_commit_callbacks, item, "documents_received")  # 2: still missing, a new task
    body = client.get(referral.get_absolute_url()).content.decode()
    assert re.search(r"Manual touches:</span>2<", body)
    assert reverse("queues:task", args=[item_of(referral).task_id]) in body


def test_home_goes_to_the_queues_and_they_lead_the_menu(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == QUEUE
    body = client.get(QUEUE).content.decode()
    nav = body[body.index('<nav class="nav"'):]
    assert nav.index("Work queues") < nav.index("Referrals")


def test_user_without_a_role_cannot_open_the_queues(client, north):
    client.force_login(factories.user("nobody", None, sites=[north]))
    assert client.get(QUEUE).status_code == 403
