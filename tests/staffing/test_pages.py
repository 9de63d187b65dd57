"""The staffing pages: who may see them, that they render, and that their query count does not grow with data."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from staffing.models import Credential

from .. import factories
from .conftest import MONDAY, at, book, shift

PAGES = ["staffing:roster", "staffing:coverage", "staffing:overtime", "staffing:credentials", "staffing:import"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_render_for_scheduler_and_manager(client, clinic, scheduler, manager, name):
    shift(clinic["p1"], clinic["site"], MONDAY, 8, 16)
    for user in (scheduler, manager):
        client.force_login(user)
        response = client.get(reverse(name), {"week": MONDAY.isoformat()} if name != "staffing:credentials" else {})
        assert response.status_code == 200, response.content[:500]


@pytest.mark.parametrize("name", PAGES)
def test_users_without_staffing_permissions_get_403(client, clinic, name):
    client.force_login(factories.user("nobody", None))
    assert client.get(reverse(name)).status_code == 403


def test_bad_week_is_a_400_not_a_500(client, clinic, scheduler):
    client.force_login(scheduler)
    assert client.get(reverse("staffing:roster"), {"week": "someday"}).status_code == 400
    assert client.get(reverse("staffing:coverage-cell"), {"site": "999", "day": "2030-06-03"}).status_code == 400


def test_coverage_cell_is_scoped_to_the_users_sites(client, clinic, outsider):
    client.force_login(outsider)  # a coordinator who works at South only
    response = client.get(reverse("staffing:coverage-cell"), {"site": clinic["site"].pk, "day": "2030-06-03"})
    assert response.status_code in (400, 403)


def test_coverage_cell_page_and_fragment(client, clinic, scheduler):
    shift(clinic["p1"], clinic["site"], MONDAY, 8, 16)
    book(clinic["gp"], clinic["site"], clinic["p1"], at(MONDAY, 9))
    client.force_login(scheduler)
    url = reverse("staffing:coverage-cell")
    params = {"site": clinic["site"].pk, "day": MONDAY.isoformat()}
    page = client.get(url, params)
    fragment = client.get(url, params, HTTP_HX_REQUEST="true")
    assert page.status_code == fragment.status_code == 200
    assert "<html" not in fragment.content.decode() and clinic["p1"].display_name in fragment.content.decode()


def _grow(clinic, n):
    site = clinic["site"]
    for _ in range(n):
        member = factories.staff(site)
        Credential.objects.create(staff=member, kind=clinic["licence"], expires_on=MONDAY + timedelta(days=3))
        for d in range(3):
            shift(member, site, MONDAY + timedelta(days=d), 8, 16)
        book(clinic["gp"], site, member, at(MONDAY, 9))


@pytest.mark.parametrize("name", PAGES)
def test_query_counts_do_not_grow_with_staff(client, clinic, manager, name):
    client.force_login(manager)
    params = {"week": MONDAY.isoformat()} if name != "staffing:credentials" else {}
    _grow(clinic, 2)
    client.get(reverse(name), params)  # warm caches (sessions, content types)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse(name), params).status_code == 200
    _grow(clinic, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse(name), params).status_code == 200
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
