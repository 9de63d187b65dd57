"""A care coordinator's day in the browser: log in, find referrals, filter them, open one and read its history."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from healthops.audit import system_user
from referrals.services import referral_document_add, referral_set_stage

from .. import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests/factories.py


@pytest.fixture
def cases(settings, tmp_path, north, south):
    settings.MEDIA_ROOT = tmp_path / "media"
    actor = system_user()
    service = factories.service_type(name="Knee MRI")
    made = {}
    for key, at, family, stage in (("intake", north, "Abernathy", None), ("sched", north, "Bellweather", "scheduling"),
                                   ("booked", north, "Castellano", "booked"), ("south1", south, "Southgate", None),
                                   ("south2", south, "Southwell", "scheduling")):
        referral = factories.referral(at, factories.patient(at, family_name=family), service)
        if stage == "booked":
            referral_set_stage(referral=referral, stage="scheduling", actor=actor, reason="Waiting for a slot")
        if stage:
            referral_set_stage(referral=referral, stage=stage, actor=actor,
                               reason="No MRI slot in the next 10 days" if stage == "scheduling" else "")
        made[key] = referral
    referral_document_add(referral=made["booked"], kind=factories.document_kind("referral-letter"),
                          file=SimpleUploadedFile("letter.pdf", b"%PDF-1.4 letter"), original_name="letter.pdf",
                          actor=actor)
    return made


def _log_in(page, username):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").first.click()


def test_anonymous_visit_lands_on_login(browser_page, browser_errors):
    page = browser_page
    page.goto("/referrals/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/referrals/"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("listed in the README")).to_be_visible()
    assert browser_errors == []


def test_coordinator_journey(browser_page, browser_errors, coordinator, cases):
    page = browser_page
    page.goto("/referrals/")
    _log_in(page, coordinator.username)

    # The list: only North's referrals, with stage chips counting them.
    expect(page).to_have_url(re.compile(r"/referrals/$"))
    rows = page.locator("#referrals tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#referrals")).not_to_contain_text("Southgate")
    expect(page.locator("#referrals")).not_to_contain_text("Southwell")
    expect(page.locator('.chip[data-stage="scheduling"] .count')).to_have_text("1")

    # Filter by clicking a stage chip: htmx swaps the table and pushes the URL; the stage select follows.
    page.locator('.chip[data-stage="scheduling"]').click()
    expect(page).to_have_url(re.compile(r"stage=scheduling"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Bellweather")
    expect(rows.first).to_contain_text("No MRI slot in the next 10 days")
    expect(page.locator("select[name=stage]")).to_have_value("scheduling")

    # Back goes back (a fresh page from the server: htmx keeps no snapshots of patient data in localStorage).
    page.go_back()
    expect(page).to_have_url(re.compile(r"/referrals/$"))
    expect(rows).to_have_count(3)
    assert page.evaluate("window.localStorage.length") == 0
    page.go_forward()
    expect(rows).to_have_count(1)

    # Back to all stages, then search as you type.
    page.locator(".chip", has_text="All stages").click()
    expect(rows).to_have_count(3)
    page.locator("input[name=q]").press_sequentially("castel", delay=30)
    expect(page).to_have_url(re.compile(r"q=castel"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Castellano")

    # Open the referral: header, documents, timeline and audit trail.
    booked = cases["booked"]
    rows.first.get_by_role("link", name=f"R-{booked.pk}").click()
    expect(page).to_have_url(re.compile(rf"/referrals/{booked.pk}/$"))
    expect(page.get_by_role("heading", name=re.compile(rf"Referral R-{booked.pk}"))).to_be_visible()
    expect(page.locator("#patient")).to_contain_text("Castellano")
    expect(page.locator("#documents")).to_contain_text("letter.pdf")
    timeline = page.locator("#timeline")
    for event in ("referral.received", "referral.stage-changed", "referral.booked", "referral.document-added"):
        expect(timeline).to_contain_text(event)
    audit = page.locator("#audit")
    expect(audit).to_contain_text("access")
    expect(audit).to_contain_text(coordinator.username)

    # Add a document: the page comes back with a confirmation and the document listed.
    page.select_option("select[name=kind]", label="Referral Letter")
    page.set_input_files("input[name=file]", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                                      "buffer": b"Clinical notes"}])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text(f"added to R-{booked.pk}")
    expect(page.locator("#documents")).to_contain_text("notes.txt")

    assert browser_errors == [], browser_errors

    # Another site's referral is not there for this coordinator (the browser reports the 404 itself, nothing else).
    response = page.goto(f"/referrals/{cases['south1'].pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    assert [e for e in browser_errors if "status of 404" not in e] == [], browser_errors
    page.go_back()
    expect(page.locator("#timeline")).to_be_visible()
