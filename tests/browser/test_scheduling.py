"""A scheduler in the browser: book a referral from its ranked slots, then find the booking on the board."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from healthops import permissions
from scheduling.models import WeeklyAvailability
from staffing.models import Shift, StaffMember

from .. import factories
from .conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests/factories.py


@pytest.fixture
def clinic():
    """A clinic with one room open every day and one physician on shift the day after tomorrow (site time)."""
    site = factories.site(name="Riverside Clinic", code="riverside", time_zone="America/Chicago")
    service = factories.service_type(name="Cardiology consult", duration_minutes=30, min_notice_hours=24)
    room = factories.room(site, name="Exam A")
    for weekday in range(7):
        WeeklyAvailability.objects.create(resource=room.resource, weekday=weekday, start_time=time(7),
                                          end_time=time(19))
    doctor = factories.staff(site, role=StaffMember.Role.PHYSICIAN)
    day = datetime.now(UTC).astimezone(site.tz).date() + timedelta(days=2)
    Shift.objects.create(staff=doctor, site=site, start=datetime.combine(day, time(8), tzinfo=site.tz),
                         end=datetime.combine(day, time(12), tzinfo=site.tz))
    patient = factories.patient(site, given_name="Rosa", family_name="Quintero")
    referral = factories.referral(site, patient, service)
    scheduler = factories.user("sched-browser", permissions.SCHEDULER, sites=[site])
    return {"site": site, "referral": referral, "day": day, "scheduler": scheduler}


def test_scheduler_books_a_referral_and_sees_it_on_the_board(browser_page, browser_errors, clinic):
    page = browser_page
    referral = clinic["referral"]
    page.goto(f"/referrals/{referral.pk}/")
    page.fill("input[name=username]", clinic["scheduler"].username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").first.click()

    # The referral page offers booking; the booking page ranks free slots, soonest first, in site time.
    expect(page.get_by_role("heading", name=re.compile(rf"Referral R-{referral.pk}"))).to_be_visible()
    page.locator("#book-button").click()
    expect(page).to_have_url(re.compile(rf"/referrals/{referral.pk}/book/$"))
    rows = page.locator("#suggestions-table tbody tr")
    expect(rows.first).to_contain_text(clinic["day"].strftime("%b %-d"))
    expect(rows.first).to_contain_text("08:00–08:30")
    expect(rows.first).to_contain_text("Exam A")
    expect(rows.first).to_contain_text("Best match")

    # A preference re-ranks the slots in place (htmx) and keeps a real address.
    page.select_option("select[name=time_of_day]", "afternoon")
    expect(page).to_have_url(re.compile(r"time_of_day=afternoon"))
    page.select_option("select[name=time_of_day]", "any")
    expect(page).to_have_url(re.compile(r"time_of_day=any"))

    # One click books the first suggestion and comes back to the referral, now booked.
    rows.first.get_by_role("button", name="Book").click()
    expect(page).to_have_url(re.compile(rf"/referrals/{referral.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Booked Cardiology consult")
    expect(page.locator("h1 .pill").first).to_have_text("Booked")
    expect(page.locator("#appointments")).to_contain_text("Cardiology consult")
    expect(page.locator("#book-button")).to_have_count(0)

    # The board of that day shows the booking as a block with the patient's initials only.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scheduling").click()
    page.get_by_role("navigation", name="Scheduling").get_by_role("link", name="Board").click()
    expect(page.locator("#board-grid")).to_be_visible()
    page.fill("input[name=day]", clinic["day"].isoformat())
    expect(page).to_have_url(re.compile(rf"day={clinic['day'].isoformat()}"))
    block = page.locator("#board-grid a.block").first
    expect(block).to_contain_text("R.Q.")
    expect(block).to_contain_text("Cardiology consult")
    expect(page.locator("#board-grid")).not_to_contain_text("Quintero")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "scheduling_board_after_booking.png"), full_page=True)

    # Next day and back, then the block opens the appointment page.
    page.locator("a[rel=next]").click()
    expect(page.locator("#board-grid a.block")).to_have_count(0)
    page.locator("a[rel=prev]").click()
    expect(page.locator("#board-grid a.block").first).to_be_visible()
    page.locator("#board-grid a.block").first.click()
    expect(page.get_by_role("heading", name=re.compile("Cardiology consult"))).to_be_visible()
    expect(page.locator("#details")).to_contain_text("Exam A")
    expect(page.locator("#timeline")).to_contain_text("appointment.booked")
    assert browser_errors == [], browser_errors
