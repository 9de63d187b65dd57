"""Roster import: idempotent, a diff of added / changed / removed shifts, conflicts flagged; CSV and workforce pull."""

from datetime import timedelta

import pytest
from django.urls import reverse

from healthops.audit import system_user
from healthops.errors import DomainError
from healthops.models import Event, IntegrationCall
from staffing.models import Credential, RosterImport, Shift
from staffing.services import roster_import, roster_pull

from .. import factories
from .conftest import MONDAY, at, member, shift

WEEK_END = MONDAY + timedelta(days=6)


def row(id_, staff, day, start_h, end_h, site="north", dept="general"):
    return {"id": id_, "staff_external_id": staff, "site_code": site, "department_code": dept,
            "start": at(day, start_h).isoformat(), "end": at(day, end_h).isoformat()}


def run(rows, source=Shift.Source.WORKFORCE):
    return roster_import(rows=rows, source=source, period_start=MONDAY, period_end=WEEK_END, actor=system_user())


def test_import_is_idempotent_and_diffs_added_changed_removed(clinic):
    first = run([row("S1", "WF-P1", MONDAY, 8, 16), row("S2", "WF-P2", MONDAY, 12, 16),
                 row("S3", "WF-N1", MONDAY + timedelta(days=1), 8, 12)])
    assert (first.added, first.changed, first.removed, first.conflict_count) == (3, 0, 0, 0)
    assert Shift.objects.filter(source="workforce").count() == 3
    assert Shift.objects.get(external_id="S1").department.code == "general"

    again = run([row("S1", "WF-P1", MONDAY, 8, 16), row("S2", "WF-P2", MONDAY, 12, 16),
                 row("S3", "WF-N1", MONDAY + timedelta(days=1), 8, 12)])
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 3)
    assert again.diff == []

    # S1 moves an hour later, S3 is dropped, S4 is new.
    third = run([row("S1", "WF-P1", MONDAY, 9, 17), row("S2", "WF-P2", MONDAY, 12, 16),
                 row("S4", "WF-N1", MONDAY + timedelta(days=2), 8, 12)])
    assert (third.added, third.changed, third.removed, third.unchanged) == (1, 1, 1, 1)
    assert {(d["op"], d["id"]) for d in third.diff} == {("added", "S4"), ("changed", "S1"), ("removed", "S3")}
    changed = next(d for d in third.diff if d["op"] == "changed")
    assert "08:00–16:00 → " in changed["text"] and "09:00–17:00" in changed["text"]
    assert Shift.objects.get(external_id="S1").start == at(MONDAY, 9)
    assert not Shift.objects.filter(external_id="S3").exists()
    events = Event.objects.filter(type="org.healthops.staffing.roster-imported.v1").order_by("sequence")
    assert [(e.data["added"], e.data["changed"], e.data["removed"]) for e in events] == [(3, 0, 0), (0, 0, 0), (1, 1, 1)]


def test_other_sources_and_periods_are_left_alone(clinic):
    manual = shift(clinic["p1"], clinic["site"], MONDAY + timedelta(days=3), 8, 12)
    later = shift(clinic["p2"], clinic["site"], MONDAY + timedelta(days=10), 8, 12, source="workforce",
                  external_id="LATER")
    run([row("S1", "WF-P1", MONDAY, 8, 16)])
    run([])
    assert Shift.objects.filter(pk__in=[manual.pk, later.pk]).count() == 2


def test_conflicts_unknown_staff_overlap_same_start_and_expired_credential(clinic):
    Credential.objects.filter(staff=clinic["nurse"]).update(expires_on=MONDAY + timedelta(days=1))
    shift(clinic["p2"], clinic["site"], MONDAY, 8, 12)  # a manual shift the import must not duplicate
    done = run([
        row("S1", "WF-P1", MONDAY, 8, 16),
        row("S2", "WF-P1", MONDAY, 15, 20),  # overlaps S1 by an hour
        row("S3", "WF-NOBODY", MONDAY, 8, 16),
        row("S4", "WF-P2", MONDAY, 8, 14),  # same start as the manual shift
        row("S5", "WF-N1", MONDAY + timedelta(days=4), 8, 12),  # licence expired on Tuesday
        row("S6", "WF-P1", MONDAY + timedelta(days=9), 8, 12),  # outside the period
        row("S7", "WF-P2", MONDAY + timedelta(days=2), 8, 12, dept="nowhere"),
    ])
    kinds = sorted(c["kind"] for c in done.conflicts)
    assert kinds == ["missing-credential", "outside-period", "overlap", "same-start", "unknown-department",
                     "unknown-staff"]
    assert {c["row"] for c in done.conflicts if c["kind"] in ("unknown-staff", "same-start")} == {3, 4}
    # Overlaps, credential gaps and unknown departments are imported and flagged; the rest skipped.
    assert set(Shift.objects.filter(source="workforce").values_list("external_id", flat=True)) == {"S1", "S2", "S5", "S7"}
    assert done.conflict_count == 6 and done.added == 4


def test_unreadable_rows_refuse_the_whole_import(clinic):
    with pytest.raises(DomainError) as exc:
        run([row("S1", "WF-P1", MONDAY, 8, 16), {"id": "S2", "staff_external_id": "WF-P2", "site_code": "north",
                                                  "start": "2030-06-03T08:00:00", "end": "2030-06-03T09:00:00-05:00"}])
    assert "row 2" in exc.value.message and "no UTC offset" in exc.value.message
    assert not Shift.objects.exists() and not RosterImport.objects.exists()


CSV_HEADER = "staff_external_id,site_code,department_code,start,end\n"


def _upload(client, text, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("staffing:import"), {"action": "upload", **extra,
                       "file": SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")})


def test_csv_bad_rows_get_400_naming_the_lines_and_nothing_is_written(client, clinic, admin_user):
    client.force_login(admin_user)
    bad = (CSV_HEADER + "WF-P1,north,general,2030-06-03T08:00:00-05:00,2030-06-03T16:00:00-05:00\n"
           "WF-P2,north,general,not-a-time,2030-06-03T16:00:00-05:00\n"
           "WF-N1,north,general,2030-06-03T12:00:00-05:00,2030-06-03T08:00:00-05:00\n")
    response = _upload(client, bad)
    assert response.status_code == 400
    body = response.content.decode()
    assert "line 3" in body and "line 4" in body and "Nothing was imported" in body
    assert not Shift.objects.exists() and not RosterImport.objects.exists()

    assert _upload(client, "who,when\nx,y\n").status_code == 400


def test_csv_upload_imports_and_repeats_idempotently(client, clinic, admin_user):
    client.force_login(admin_user)
    good = (CSV_HEADER + "WF-P1,north,general,2030-06-03T08:00:00-05:00,2030-06-03T16:00:00-05:00\n"
            "WF-P2,north,general,2030-06-04T08:00:00-05:00,2030-06-04T12:00:00-05:00\n")
    response = _upload(client, good)
    assert response.status_code == 302
    first = RosterImport.objects.get()
    assert (first.source, first.added, first.period_start.isoformat()) == ("csv", 2, "2030-06-03")
    assert _upload(client, good).status_code == 302
    assert RosterImport.objects.latest("pk").added == 0 and Shift.objects.filter(source="csv").count() == 2
    page = client.get(first.get_absolute_url())
    assert page.status_code == 200 and "Dr. " in page.content.decode()


def test_importing_needs_permission_to_add_shifts(client, clinic, scheduler):
    client.force_login(scheduler)
    assert client.get(reverse("staffing:import")).status_code == 200
    assert client.post(reverse("staffing:import"), {"action": "pull"}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_pull_from_the_workforce_sandbox(sandbox, settings):
    settings.WORKFORCE_URL = f"{sandbox.base_url}/workforce"
    site = factories.site(code="north")
    member(site, external_id="WF-P1")
    shifts = [row("R1", "WF-P1", MONDAY, 8, 16), row("R2", "WF-P1", MONDAY + timedelta(days=1), 8, 16)]
    assert sandbox.post("/_control/roster", {"shifts": shifts}).status == 200
    actor = factories.user("puller", None)

    first = roster_pull(start=MONDAY, end=WEEK_END, actor=actor)
    assert (first.added, first.removed) == (2, 0)
    assert roster_pull(start=MONDAY, end=WEEK_END, actor=actor).unchanged == 2
    assert IntegrationCall.objects.filter(system="workforce", outcome="ok").count() == 2

    # An empty answer for a week we hold shifts for is refused, not read as "everyone cancelled".
    assert sandbox.post("/_control/roster", {"shifts": []}).status == 200
    with pytest.raises(DomainError, match="no shifts"):
        roster_pull(start=MONDAY, end=WEEK_END, actor=actor)
    assert Shift.objects.count() == 2
