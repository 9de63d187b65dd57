"""The work queues in the browser: a coordinator works an outreach task, a scheduler books from suggestions, a lead
reassigns work in bulk. The payer and messaging sandbox answer over HTTP; jobs run inline in the live server."""

import re
from datetime import date, time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from authorizations.models import PayerRule
from authorizations.services import coverage_create
from healthops.audit import system_user
from referrals.models import Referral, WorkItem
from referrals.services import referral_create
from referrals.work import referral_start_flow
from scheduling.models import WeeklyAvailability
from staffing.models import Shift

from .. import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests/factories.py


@pytest.fixture
def network(north, sandbox, settings, monkeypatch, tmp_path):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PAYER_URL = f"{sandbox.base_url}/payer"
    settings.MESSAGING_URL = f"{sandbox.base_url}/messaging"
    settings.INTEGRATIONS = {"TIMEOUT_SECONDS": 1, "MAX_ATTEMPTS": 2, "BACKOFF_BASE_SECONDS": 0,
                             "BACKOFF_MAX_SECONDS": 0, "FAILURE_THRESHOLD": 5, "OPEN_SECONDS": 60}
    room = factories.room(north, name="Exam 1")
    doctor = factories.staff(north)
    for weekday in range(7):
        WeeklyAvailability.objects.create(resource=room.resource, weekday=weekday, start_time=time(0),
                                          end_time=time(23, 59))
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(1, 15):
        Shift.objects.create(staff=doctor, site=north, start=today + timedelta(days=day, hours=14),
                             end=today + timedelta(days=day, hours=20))
    return {"site": north, "payer": factories.payer()}


def start(network, family, *, auto_book=True, documents=()) -> Referral:
    """A referral for a fresh patient (coverage in force, no prior auth), put into the flow."""
    service = factories.service_type(name="Knee MRI" if documents else "Dermatology consult", auto_book=auto_book,
                                     min_notice_hours=1)
    for code in documents:
        service.required_documents.add(factories.document_kind(code))
    PayerRule.objects.create(payer=network["payer"], service_type=service, prior_auth_required=False)
    patient = factories.patient(network["site"], family_name=family, phone="555-0100")
    coverage = coverage_create(patient=patient, payer=network["payer"], member_id=f"TEST-ACTIVE-{family}",
                               period_start=date(2026, 1, 1), actor=system_user())
    referral = factories.referral(network["site"], patient, service, coverage=coverage)
    with transaction.atomic():
        referral_start_flow(referral=referral)  # its jobs run when this commits
    referral.refresh_from_db()
    return referral


def log_in(page, username):
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/queues/$"))


def test_coordinator_works_an_outreach_task(browser_page, browser_errors, network, coordinator):
    referral = start(network, "Abernathy", documents=["imaging-order"])
    assert referral.stage == "completeness"
    page = browser_page
    log_in(page, coordinator.username)

    # Nothing is assigned yet; the team queue holds the outreach task.
    expect(page.locator("#queue-empty")).to_contain_text("Nothing is assigned to you")
    page.locator('.tab[data-tab="team"]').click()
    expect(page).to_have_url(re.compile(r"tab=team"))
    row = page.locator("#queue-table tbody tr", has_text="Abernathy")
    expect(row).to_contain_text("Get the missing documents")
    expect(row).to_contain_text("Missing: imaging order")
    row.get_by_role("button", name="Claim").click()
    expect(page.locator(".messages")).to_contain_text(f"R-{referral.pk}: you took")
    expect(page.locator('.tab[data-tab="mine"] .count')).to_have_text("1")

    # My tasks: open it. The task page says what is missing and takes the document.
    page.locator('.tab[data-tab="mine"]').click()
    expect(page).to_have_url(re.compile(r"tab=mine"))
    page.locator("#queue-table tbody tr", has_text="Abernathy").get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=re.compile("Get the missing documents"))).to_be_visible()
    expect(page.locator("#action")).to_contain_text("Imaging Order")
    page.select_option("#action select[name=kind]", label="Imaging Order")
    page.set_input_files("#action input[name=file]", files=[{"name": "order.txt", "mimeType": "text/plain",
                                                             "buffer": b"MRI knee, left"}])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text(f"Imaging Order added to R-{referral.pk}")
    expect(page.locator("#missing")).to_contain_text("Nothing missing")
    expect(page.frame_locator("iframe.doc-viewer").locator("body")).to_contain_text("MRI knee, left")

    # Documents received: the flow checks eligibility and books by itself; the task leaves My tasks.
    page.get_by_role("button", name="Documents received — continue").click()
    expect(page).to_have_url(re.compile(r"/queues/\?tab=mine"))
    expect(page.locator(".messages")).to_contain_text(f"R-{referral.pk}: documents complete")
    expect(page.locator('.tab[data-tab="mine"] .count')).to_have_text("0")
    expect(page.locator("#queue-empty")).to_be_visible()
    page.goto(f"/referrals/{referral.pk}/")
    expect(page.locator("h1 .pill.stage-booked")).to_have_text("Booked")
    expect(page.locator("#manual-touches")).to_contain_text("2")  # claimed, completed
    assert browser_errors == [], browser_errors


def test_scheduler_books_from_suggestions(browser_page, browser_errors, network, scheduler):
    referral = start(network, "Bellweather", auto_book=False)
    assert referral.stage == "scheduling"
    page = browser_page
    log_in(page, scheduler.username)
    page.locator('.tab[data-tab="team"]').click()
    expect(page.locator(".tab.active")).to_have_attribute("data-tab", "team")
    row = page.locator("#queue-table tbody tr", has_text="Bellweather")
    expect(row).to_contain_text("This service is booked by a person.")
    row.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=re.compile("Book an appointment"))).to_be_visible()
    first = page.locator("#suggestions-table tbody tr").first
    expect(first).to_contain_text("Best match")
    expect(first).to_contain_text("Exam 1")
    first.get_by_role("button", name="Book").click()
    expect(page).to_have_url(re.compile(r"/queues/\?tab=team"))
    expect(page.locator(".messages")).to_contain_text(re.compile(rf"R-{referral.pk} booked for \w{{3}} \w{{3}} \d+ \d\d:\d\d"))
    expect(page.locator("#queue-table", has_text="Bellweather")).to_have_count(0)
    referral.refresh_from_db()
    assert referral.stage == "booked" and referral.appointments.get().status == "booked"
    assert browser_errors == [], browser_errors


def test_lead_reassigns_two_tasks_in_bulk(browser_page, browser_errors, network, manager, coordinator):
    made = []
    for family in ("Castellano", "Dunmore", "Ellery"):
        referral = referral_create(referring_organization=factories.organization(), site=network["site"],
                                   reason=f"Rash ({family})", source_channel="fax", actor=system_user(),
                                   service_type=factories.service_type(name=f"Consult {family}"))
        with transaction.atomic():
            referral_start_flow(referral=referral)
        made.append(referral)
    page = browser_page
    log_in(page, manager.username)
    page.locator('.tab[data-tab="team"]').click()
    expect(page.locator(".tab.active")).to_have_attribute("data-tab", "team")
    expect(page.locator('.tab[data-tab="team"] .count')).to_have_text("3")

    # Filter by task type (htmx, the URL follows), then tick two rows and hand them to the coordinator.
    page.select_option("select[name=task_type]", "patient_match")
    expect(page).to_have_url(re.compile(r"task_type=patient_match"))
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(3)
    for referral in made[:2]:
        page.check(f'input[name=tasks][aria-label="Select R-{referral.pk}"]')
    page.select_option("#bulk select[name=assignee]", label=coordinator.username)
    page.locator("#bulk").get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text(f"2 tasks assigned to {coordinator.username}")
    expect(page).to_have_url(re.compile(r"task_type=patient_match"))
    expect(rows).to_have_count(1)  # the assigned ones left the team queue
    expect(page.locator('.tab[data-tab="risk"]')).to_be_visible()
    owners = dict(WorkItem.objects.filter(referral__in=made).values_list("referral_id", "task__owner__username"))
    assert owners == {made[0].pk: coordinator.username, made[1].pk: coordinator.username, made[2].pk: None}
    assert browser_errors == [], browser_errors
