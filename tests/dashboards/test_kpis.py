"""The SQL KPIs equal a brute-force recomputation over the raw events and rows, whole network and filtered."""

from datetime import timedelta

import pytest

from dashboards import kpis
from dashboards.facts import refresh_facts
from dashboards.models import ReferralFacts, StageVisit, TaskFact

from . import brute


def period(history, **kw):
    return kpis.Filters(since=history.T - timedelta(days=2), until=history.now + timedelta(days=1), **kw)


def near(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 0.11)


def check(f, now):
    expected = brute.kpis(f, now)
    cases = kpis.case_kpis(f)
    for key in ("booked", "received", "straight_through_pct", "touches_per_case"):
        assert cases[key] == expected[key], key
    for key in ("cycle_p50_hours", "cycle_p90_hours", "worked_hours", "waiting_hours"):
        assert near(cases[key], expected[key]), (key, cases[key], expected[key])
    assert {r["reason"]: r["count"] for r in kpis.exceptions(f)} == expected["exceptions"]
    assert {r["queue"]: {"open": r["open"], "overdue": r["overdue"]} for r in kpis.backlog(f, now)} == expected["backlog"]
    clocks = {(r["payer_id"], r["urgency"]): r for r in kpis.payer_clocks(f, now)}
    assert set(clocks) == set(expected["payer_clocks"])
    for key, want in expected["payer_clocks"].items():
        assert clocks[key]["count"] == want["count"] and clocks[key]["breached"] == want["breached"]
        assert near(clocks[key]["p50_hours"], want["p50_hours"])
    rates = kpis.appointment_rates(f)
    for key in ("appointments", "noshow", "cancelled", "rescheduled"):
        assert rates[key] == expected[key], key
    got_map = {(r["from"], r["to"]): (r["count"], r["median_hours"]) for r in kpis.process_map(f)}
    assert set(got_map) == set(expected["process_map"])
    for key, (count, median) in expected["process_map"].items():
        assert got_map[key][0] == count and near(got_map[key][1], median), key
    rooms = {r["site_id"]: r["room_booked_hours"] for r in kpis.utilization(f)}
    for site_id, hours in expected["room_hours"].items():
        assert near(rooms[site_id], hours)
    assert {r["staff_id"] for r in kpis.overtime_risk(f, now)} == expected["overtime"]
    return cases


def test_every_kpi_equals_brute_force(history):
    cases = check(period(history), history.now)
    # The fixture's own arithmetic, so the brute force is not merely agreeing with itself.
    assert cases["booked"] == 3 and cases["straight_through_pct"] == 33.3
    assert cases["cycle_p50_hours"] == 8.0 and cases["worked_hours"] == round((0 + 3 + 29) / 3, 1)


@pytest.mark.parametrize("narrow", ["north", "south", "payer", "service"])
def test_filtered_kpis_equal_brute_force(history, narrow):
    kw = {"north": {"sites": frozenset({history.north.pk})}, "south": {"sites": frozenset({history.south.pk})},
          "payer": {"payer": history.p1.pk}, "service": {"service_type": history.service.pk}}[narrow]
    check(period(history, **kw), history.now)


def test_previous_period_is_compared(history):
    f = kpis.Filters(since=history.T - timedelta(days=20), until=history.T + timedelta(days=5))
    figures = kpis.dashboard(f, history.now)
    tile = next(t for t in figures["tiles"] if t["key"] == "cycle_p50_hours")
    assert tile["previous"] == 48.0 and tile["value"] == 8.0 and tile["change"] == -40.0 and tile["better"] is True


def test_incremental_refresh_equals_full_rebuild(history):
    def snapshot():
        return (sorted(ReferralFacts.objects.values_list("pk", "booked_at", "cycle_seconds", "worked_seconds",
                                                         "tasks_created", "manual_touches", "stage")),
                sorted(StageVisit.objects.values_list("referral_id", "stage", "next_stage", "seconds")),
                sorted(TaskFact.objects.values_list("task_id", "task_type", "completed_at")))

    incremental = snapshot()
    assert refresh_facts()["referrals"] == 0  # nothing new
    refresh_facts(full=True)
    assert snapshot() == incremental


def test_a_long_catch_up_resumes_where_the_last_run_stopped(history, monkeypatch):
    """A refresh far behind the event log (a worker down for a day) folds a window at a time and keeps its place, so
    a run cut short by its time budget, or killed, loses nothing and the next run goes on."""
    from dashboards import facts
    from dashboards.models import FactsCursor

    def snapshot():
        return (sorted(ReferralFacts.objects.values_list("pk", "booked_at", "cycle_seconds", "stage")),
                sorted(TaskFact.objects.values_list("task_id", "task_type", "completed_at")))

    expected = snapshot()
    FactsCursor.objects.update(sequence=0)  # as if nothing had been folded yet
    ReferralFacts.objects.all().delete()
    TaskFact.objects.all().delete()
    StageVisit.objects.all().delete()
    monkeypatch.setattr(facts, "WINDOW", 3)
    runs = []
    while True:
        result = refresh_facts(budget=0)  # one window per run
        runs.append(result["cursor"])
        if result["behind"] == 0:
            break
    assert len(runs) > 2 and runs == sorted(runs)  # several runs, each further on
    assert snapshot() == expected
