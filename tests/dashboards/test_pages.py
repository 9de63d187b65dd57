"""Dashboard pages, drill-downs, the KPI API, exports, filters and scoping, through HTTP."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission

from dashboards.kpis import DEFINITIONS

from .. import factories

PASSWORD = "pw-for-tests-1"


def q(history, **extra):
    params = {"from": (history.T - timedelta(days=2)).date().isoformat(),
              "to": history.now.date().isoformat(), **extra}
    return "&".join(f"{k}={v}" for k, v in params.items())


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def test_page_shows_figures_and_api_returns_the_same(history, as_manager):
    page = as_manager.get(f"/dashboards/?{q(history)}")
    assert page.status_code == 200
    api = as_manager.get(f"/api/v1/kpis?{q(history)}")
    assert api.status_code == 200
    assert api.json() == json.loads(json.dumps(page.context["figures"], default=str))
    assert api.json()["summary"]["booked"] == 3
    html = page.content.decode()
    assert 'id="tile-cycle_p50_hours"' in html and "8.0" in html and "/static/dashboards/charts.js" in html
    assert "cdn" not in html.lower()


def test_htmx_request_gets_the_fragment(history, as_manager):
    response = as_manager.get(f"/dashboards/?{q(history, site=history.north.pk)}", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="dash-body"') and "<html" not in body


def refs(response):
    return {r.referral_id for r in response.context["drill"].page()}


def test_drill_down_lists_the_cases_behind_each_number(history, as_manager):
    booked = as_manager.get(f"/dashboards/cases/booked/?{q(history)}")
    assert refs(booked) == {history.a.pk, history.b.pk, history.d.pk}
    assert f"R-{history.a.pk}" in booked.content.decode()
    straight = as_manager.get(f"/dashboards/cases/booked/?{q(history, straight_through=1)}")
    assert refs(straight) == {history.b.pk}
    backlog = as_manager.get(f"/dashboards/cases/backlog/?{q(history, queue='outreach')}")
    assert [t.task_id for t in backlog.context["drill"].page()] == [9002]
    breached = as_manager.get(f"/dashboards/cases/authorizations/?{q(history, breached=1)}")
    assert {z.pk for z in breached.context["drill"].page()} == {history.auths[1].pk, history.auths[2].pk}
    noshow = as_manager.get(f"/dashboards/cases/appointments/?{q(history, outcome='noshow')}")
    assert [a.pk for a in noshow.context["drill"].page()] == [history.appts[1].pk]
    stays = as_manager.get(f"/dashboards/cases/stage/?{q(history, stage='scheduling', next='booked')}")
    assert refs(stays) == {history.a.pk, history.b.pk, history.d.pk}
    assert as_manager.get(f"/dashboards/cases/nonsense/?{q(history)}").status_code == 404


def test_site_filter_narrows_every_figure(history, as_manager):
    north = as_manager.get(f"/api/v1/kpis?{q(history, site=history.north.pk)}").json()
    assert north["summary"]["booked"] == 2 and north["summary"]["straight_through_pct"] == 50.0
    assert [r["queue"] for r in north["backlog"]] == []
    assert [r["site"] for r in north["utilization"]] == [history.north.name]


def test_bad_filters_are_a_400_not_a_500(history, as_manager):
    assert as_manager.get("/dashboards/?from=2026-02-30").status_code == 400
    assert as_manager.get("/api/v1/kpis?from=2026-05-01&to=2026-04-01").status_code == 400


def test_site_lead_sees_only_their_sites_and_others_are_refused(history, client):
    lead = factories.user("lead", "coordinator", sites=[history.south])
    lead.user_permissions.add(Permission.objects.get(codename="can_lead"))
    client.force_login(lead)
    figures = client.get(f"/api/v1/kpis?{q(history)}").json()
    assert figures["summary"]["booked"] == 1  # D only
    assert client.get(f"/api/v1/kpis?{q(history, site=history.north.pk)}").status_code == 400
    booked = client.get(f"/dashboards/cases/booked/?{q(history)}")
    assert refs(booked) == {history.d.pk}
    plain = factories.user("plain", "coordinator", sites=[history.north])
    client.force_login(plain)
    assert client.get("/dashboards/").status_code == 403
    assert client.get("/api/v1/kpis").status_code == 403
    assert client.get("/dashboards/export/ocel.json").status_code == 403


def test_every_table_exports_as_csv(history, as_manager):
    for name in ("tiles", "cycle_trend", "backlog", "exceptions", "payer_clocks", "utilization", "access",
                 "overtime_risk", "bottlenecks", "process_map", "cases-booked", "cases-backlog",
                 "cases-authorizations", "cases-appointments", "cases-stage", "cases-exceptions"):
        response = as_manager.get(f"/dashboards/export/{name}.csv?{q(history)}")
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv")
    rows = as_manager.get(f"/dashboards/export/cases-booked.csv?{q(history)}").content.decode().splitlines()
    assert len(rows) == 1 + 3


def test_definitions_and_bottlenecks_pages(history, as_manager):
    page = as_manager.get("/dashboards/definitions/").content.decode()
    for k in DEFINITIONS:
        assert k.label in page
    bottlenecks = as_manager.get(f"/dashboards/bottlenecks/?{q(history)}")
    assert bottlenecks.status_code == 200
    assert ("scheduling", "booked") in {(r["from"], r["to"]) for r in bottlenecks.context["figures"]["process_map"]}


def test_query_counts_are_bounded(history, as_manager, django_assert_max_num_queries):
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(60):
        as_manager.get(f"/dashboards/?{q(history)}")
    with django_assert_max_num_queries(12):  # cached figures
        as_manager.get(f"/dashboards/?{q(history)}")
    with django_assert_max_num_queries(15):
        as_manager.get(f"/dashboards/cases/booked/?{q(history)}")


def test_nav_shows_dashboards_to_managers(history, as_manager):
    assert 'href="/dashboards/"' in as_manager.get("/dashboards/definitions/").content.decode()
