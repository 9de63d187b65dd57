"""Coverage arithmetic on a small fixture whose numbers are worked out by hand below."""

from datetime import timedelta

import pytest

from staffing.checks import booking_capacity_problem
from staffing.selectors import coverage_cell, coverage_week

from .conftest import MONDAY, at, book, shift

TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)


@pytest.fixture
def week(clinic):
    site, p1, p2, nurse = clinic["site"], clinic["p1"], clinic["p2"], clinic["nurse"]
    shift(p1, site, MONDAY, 8, 16)  # 480 min
    shift(p2, site, MONDAY, 12, 16)  # 240 min, cardiologist
    shift(nurse, site, MONDAY, 8, 12)  # 240 min
    book(clinic["gp"], site, p1, at(MONDAY, 9))  # 30
    book(clinic["gp"], site, p1, at(MONDAY, 10))  # 30
    book(clinic["echo"], site, p2, at(MONDAY, 13))  # 60, needs cardiology
    book(clinic["gp"], site, p1, at(TUESDAY, 9))  # 30 with nobody rostered on Tuesday
    # History for "expected": two weeks back, 20 x 30 min on a Monday (600 -> 150 a Monday on average over 4 weeks)
    # and 4 x 30 min on a Wednesday (120 -> 30).
    for i in range(20):
        book(clinic["gp"], site, p2, at(MONDAY - timedelta(days=14), 6) + timedelta(minutes=30 * i))
    for i in range(4):
        book(clinic["gp"], site, p2, at(WEDNESDAY - timedelta(days=14), 9) + timedelta(minutes=30 * i))
    return coverage_week(site_ids={site.pk}, week_start=MONDAY, today=MONDAY)


def _lines(cell):
    return {(line.role, line.specialty): (line.booked, line.expected, line.capacity) for line in cell.lines}


def test_monday_booked_expected_and_rostered_minutes_by_role(week):
    site, cells = week.rows[0]
    monday = cells[0]
    assert _lines(monday) == {
        ("physician", ""): (120, 30, 720),  # booked 30+30+60; expected max(0, 150-120); rostered 480+240
        ("physician", "Cardiology"): (60, 0, 240),  # the echo needs a cardiologist: only P2's 240
        ("nurse", ""): (0, 0, 240),
    }
    assert (monday.booked, monday.expected, monday.demand, monday.capacity) == (120, 30, 150, 960)
    assert (monday.gap, monday.surplus, monday.load, monday.state) == (0, 570 + 240, 16, "surplus")


def test_a_day_with_bookings_and_nobody_rostered_is_a_gap(week):
    tuesday = week.rows[0][1][1]
    assert _lines(tuesday) == {("physician", ""): (30, 0, 0)}
    assert (tuesday.gap, tuesday.state) == (30, "gap")


def test_expected_demand_alone_can_open_a_gap(week):
    wednesday = week.rows[0][1][2]
    assert _lines(wednesday) == {("physician", ""): (0, 30, 0)}
    assert wednesday.gap == 30


def test_past_days_have_no_expected_demand(clinic, week):
    later = coverage_week(site_ids={clinic["site"].pk}, week_start=MONDAY, today=MONDAY + timedelta(days=7))
    assert later.rows[0][1][0].expected == 0 and later.rows[0][1][2].lines == []


def test_cell_details_name_available_staff_with_the_needed_credential(clinic, week):
    from staffing.models import Credential

    Credential.objects.filter(staff=clinic["p2"]).update(expires_on=MONDAY - timedelta(days=1))
    cell, available = coverage_cell(site=clinic["site"], day=MONDAY, today=MONDAY)
    assert cell.demand == 150
    physicians = available["Physician"]
    # P2's licence has lapsed: the GP visits booked that day need it, so only P1 is named.
    assert [a.member for a in physicians] == [clinic["p1"]]
    assert physicians[0].on_shift and physicians[0].free_minutes == 480 - 60


def test_booking_beyond_rostered_capacity_warns(clinic, week):
    site = clinic["site"]
    assert booking_capacity_problem(site=site, service_type=clinic["gp"], start=at(MONDAY, 14),
                                    end=at(MONDAY, 14, 30)) is None
    warning = booking_capacity_problem(site=site, service_type=clinic["gp"], start=at(TUESDAY, 14),
                                       end=at(TUESDAY, 14, 30))
    assert "60 min against 0 min rostered" in warning and "override" in warning


def test_the_booking_check_reads_the_same_minutes_as_the_heatmap(week, clinic):
    from staffing.checks import role_day_minutes

    site, cells = week.rows[0]
    for cell in cells:
        for role in ("physician", "nurse"):
            line = next((x for x in cell.lines if x.role == role and not x.specialty), None)
            expected = (line.booked, line.capacity) if line else (0, 0)
            assert role_day_minutes(site=site, day=cell.day, role=role) == expected, (cell.day, role)
