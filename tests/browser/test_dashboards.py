"""A manager opens the dashboard, narrows it to one site, and drills from a KPI into the cases behind it."""

import re

import pytest
from playwright.sync_api import expect

from ..dashboards.conftest import history as dashboard_history  # noqa: F401  (the KPI tests' history)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1"  # tests/factories.py


def test_manager_narrows_to_a_site_and_drills_into_cases(browser_page, browser_errors, dashboard_history, manager):  # noqa: F811
    page, history = browser_page, dashboard_history
    page.goto("/dashboards/")
    page.fill("input[name=username]", manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.goto("/dashboards/")
    expect(page.locator("#tile-cycle_p50_hours .tile-value")).to_contain_text("8.0")
    expect(page.locator(".chart[data-chart=line] svg")).to_have_count(1)  # drawn from static/dashboards/charts.js

    page.select_option("#id_site", str(history.north.pk))  # htmx swaps the figures and pushes the address
    expect(page).to_have_url(re.compile(rf"site={history.north.pk}"))
    expect(page.locator("#tile-straight_through_pct .tile-value")).to_contain_text("50.0")

    page.locator("#tile-straight_through_pct").click()
    expect(page.locator("#drill-title")).to_contain_text("straight through")
    rows = page.locator("#drill-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"R-{history.b.pk}")
    rows.first.get_by_role("link", name=f"R-{history.b.pk}").click()
    expect(page).to_have_url(re.compile(rf"/referrals/{history.b.pk}/$"))
    assert browser_errors == []
