"""Labor cost per cost centre and week, sent to the ERP sandbox once through the outbox; changes as revisions."""

from datetime import timedelta
from decimal import Decimal

import pytest

from healthops.models import Department, Event
from healthops.outbox import deliver_pending, ensure_erp_subscription
from staffing.models import LaborCostPublication
from staffing.selectors import labor_cost_week
from staffing.services import labor_cost_publish

from .. import factories
from .conftest import MONDAY, member, shift


@pytest.fixture
def costed(clinic):
    site = clinic["site"]
    Department.objects.filter(site=site, code="general").update(cost_centre="CC-GEN")
    general = Department.objects.get(site=site, code="general")
    shift(clinic["p1"], site, MONDAY, 8, 16, department=general)  # 8 h x 100.00 -> CC-GEN
    shift(clinic["p2"], site, MONDAY + timedelta(days=1), 8, 11)  # 3 h x 120.50 = 361.50 -> CC-P2 (no department)
    shift(clinic["nurse"], site, MONDAY + timedelta(days=2), 8, 12, department=general)  # 4 h x 55.00 -> CC-GEN
    shift(clinic["p1"], site, MONDAY + timedelta(days=7), 8, 16)  # next week
    return clinic


def test_cost_per_cost_centre(costed):
    figures = labor_cost_week(week_start=MONDAY + timedelta(days=3))  # any day of the week
    assert {c: (f.hours, f.amount, f.shifts) for c, f in figures.items()} == {
        "CC-GEN": (Decimal("12.00"), Decimal("1020.00"), 2),  # 800 + 220
        "CC-P2": (Decimal("3.00"), Decimal("361.50"), 1),
    }


@pytest.mark.django_db(transaction=True)
def test_labor_cost_reaches_the_erp_sandbox_once_and_changes_as_revisions(sandbox, settings):
    settings.ERP_URL = f"{sandbox.base_url}/erp"
    ensure_erp_subscription()
    site = factories.site(code="north")
    person = member(site, hourly_cost="87.25", cost_centre="CC-X")
    shift(person, site, MONDAY, 8, 14)  # 6 h -> 523.50
    actor = factories.user("payroll", None)

    assert len(labor_cost_publish(week_start=MONDAY, actor=actor)) == 1
    assert labor_cost_publish(week_start=MONDAY, actor=actor) == []  # same figures: nothing new
    assert deliver_pending()["delivered"] == 1
    answer = sandbox.get("/erp/events?type=org.healthops.staffing.labor-cost.v1").json
    assert answer["count"] == 1
    event = answer["events"][0]
    assert event["subject"] == f"labor-cost/CC-X/{MONDAY.isoformat()}"
    assert event["data"] == {"cost_centre": "CC-X", "week_start": "2030-06-03", "week_end": "2030-06-09",
                             "hours": "6.00", "amount": "523.50", "currency": "USD", "shifts": 1, "revision": 1}
    assert deliver_pending()["delivered"] == 0

    shift(person, site, MONDAY + timedelta(days=1), 8, 10)  # +2 h
    [second] = labor_cost_publish(week_start=MONDAY, actor=actor)
    assert (second.revision, second.amount) == (2, Decimal("698.00"))
    deliver_pending()
    events = sandbox.get("/erp/events?type=org.healthops.staffing.labor-cost.v1").json["events"]
    assert [e["data"]["revision"] for e in events] == [1, 2]
    assert LaborCostPublication.objects.count() == 2
    assert Event.objects.filter(type="org.healthops.staffing.labor-cost.v1").count() == 2
