"""Overtime projection, the minimum rest rule, credential enforcement and expiry alerts."""

from datetime import timedelta

from healthops.audit import system_user
from healthops.models import Event
from staffing.checks import booking_staff_problems
from staffing.models import Credential, StaffingSettings
from staffing.selectors import overtime_list, roster_week
from staffing.services import credential_expiry_alerts, overtime_alerts

from .conftest import MONDAY, at, book, shift


def test_projected_hours_count_shifts_and_bookings_outside_them(clinic):
    site, p1 = clinic["site"], clinic["p1"]
    for i in range(4):  # Mon-Thu 07:00-17:00: 40 h
        shift(p1, site, MONDAY + timedelta(days=i), 7, 17)
    book(clinic["gp"], site, p1, at(MONDAY, 9))  # inside a shift: no extra hours
    book(clinic["gp"], site, p1, at(MONDAY + timedelta(days=4), 9))  # Friday, no shift: +0.5 h
    shift(p1, site, MONDAY + timedelta(days=7), 7, 17)  # next week: not counted
    row = next(r for r in roster_week(site_ids={site.pk}, week_start=MONDAY).rows if r.member == p1)
    assert (row.shift_hours, row.extra_hours, row.projected_hours) == (40, 0.5, 40.5)
    assert row.overtime and row.utilization == round(100 * 30 / 2400)

    StaffingSettings.objects.create(weekly_hours_threshold=45)
    row = roster_week(site_ids={site.pk}, week_start=MONDAY).rows[0]
    assert not row.overtime and row.near_threshold  # 40.5 >= 90% of 45


def test_overtime_list_and_alert_before_the_week_starts(clinic):
    site, p1 = clinic["site"], clinic["p1"]
    for i in range(5):
        shift(p1, site, MONDAY + timedelta(days=i), 8, 17)  # 45 h
    shift(clinic["p2"], site, MONDAY, 8, 12)  # 4 h: not listed
    week = overtime_list(site_ids={site.pk}, week_start=MONDAY)
    assert [r.member for r in week.rows] == [p1]
    assert overtime_alerts(week_start=MONDAY, actor=system_user()) == 1
    assert overtime_alerts(week_start=MONDAY, actor=system_user()) == 0  # once per staff member and week
    event = Event.objects.get(type="org.healthops.staffing.overtime-risk.v1")
    assert event.data["projected_hours"] == "45.0" and event.subject == f"staff/{p1.pk}"


def test_minimum_rest_between_shifts(clinic):
    site, nurse = clinic["site"], clinic["nurse"]
    shift(nurse, site, MONDAY, 14, 23)  # ends 23:00
    shift(nurse, site, MONDAY + timedelta(days=1), 7, 15)  # 8 h later: under the 10 h minimum
    shift(nurse, site, MONDAY + timedelta(days=2), 7, 15)  # 16 h later: fine
    row = roster_week(site_ids={site.pk}, week_start=MONDAY).rows[0]
    assert row.rest_violations == ["only 8.0 h rest before Tue 07:00"]
    assert [s["flag"] for c in row.cells[:3] for s in c.shifts] == ["", "rest", ""]


def test_booking_staff_problems(clinic):
    site, p1 = clinic["site"], clinic["p1"]
    shift(p1, site, MONDAY, 8, 16)
    shift(p1, site, MONDAY + timedelta(days=1), 8, 16)
    ok = booking_staff_problems(staff_member=p1, service_type=clinic["gp"], start=at(MONDAY, 9), end=at(MONDAY, 9, 30))
    assert ok == []

    # After the shift, late: outside a shift and only 9 h rest before Tuesday 08:00.
    late = booking_staff_problems(staff_member=p1, service_type=clinic["gp"], start=at(MONDAY, 22),
                                  end=at(MONDAY, 23))
    assert any("not rostered" in p for p in late) and any("rest" in p for p in late)

    Credential.objects.filter(staff=p1).update(expires_on=MONDAY)
    expired = booking_staff_problems(staff_member=p1, service_type=clinic["gp"],
                                     start=at(MONDAY + timedelta(days=1), 9), end=at(MONDAY + timedelta(days=1), 9, 30))
    assert expired == [f"{p1.display_name}'s State medical licence credential expired on Jun 3, 2030, before Jun 4, 2030."]
    # A service without a required credential is not affected.
    assert booking_staff_problems(staff_member=p1, service_type=clinic["echo"],
                                  start=at(MONDAY + timedelta(days=1), 9), end=at(MONDAY + timedelta(days=1), 10)) == []

    StaffingSettings.objects.create(weekly_hours_threshold=16)
    over = booking_staff_problems(staff_member=p1, service_type=clinic["echo"], start=at(MONDAY + timedelta(days=2), 9),
                                  end=at(MONDAY + timedelta(days=2), 10))
    assert any("17.0 h" in p and "threshold 16.0 h" in p for p in over)


def test_slot_search_leaves_out_staff_with_an_expired_credential(clinic):
    from scheduling.slots import find_slots

    site, p1 = clinic["site"], clinic["p1"]
    shift(p1, site, MONDAY, 8, 10)
    day_start = at(MONDAY, 0)
    assert find_slots(service_type=clinic["gp"], start=day_start, end=day_start + timedelta(days=1), now=day_start)
    Credential.objects.filter(staff=p1).update(expires_on=MONDAY - timedelta(days=1))
    assert find_slots(service_type=clinic["gp"], start=day_start, end=day_start + timedelta(days=1), now=day_start) == []


def test_credential_expiry_alerts_once_per_credential(clinic):
    soon = Credential.objects.get(staff=clinic["p1"])
    soon.expires_on = MONDAY + timedelta(days=20)
    soon.save()
    actor = system_user()
    assert credential_expiry_alerts(within_days=30, actor=actor, today=MONDAY) == 1
    assert credential_expiry_alerts(within_days=30, actor=actor, today=MONDAY + timedelta(days=1)) == 0
    event = Event.objects.get(type="org.healthops.staffing.credential-expiring.v1")
    assert event.subject == f"credential/{soon.pk}" and event.data["days_left"] == 20
    soon.expires_on = MONDAY + timedelta(days=25)  # renewed to another date: a new alert when due
    soon.save()
    assert credential_expiry_alerts(within_days=30, actor=actor, today=MONDAY) == 1
