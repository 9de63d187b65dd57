"""Audit: the logged-in user for requests, the system actor for jobs and commands; overrides through one service."""

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command

from healthops.audit import SYSTEM_USERNAME, acting_as, system_user
from healthops.errors import DomainError
from healthops.models import Event, Override
from healthops.overrides import override_record
from healthops.services import patient_update

from . import factories

pytestmark = pytest.mark.django_db


def test_change_in_a_job_is_attributed_to_the_system_actor(north):
    patient = factories.patient(north)
    with acting_as():
        patient_update(patient=patient, phone="555-0100", actor=system_user())
    entry = LogEntry.objects.get_for_object(patient).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor.username == SYSTEM_USERNAME
    assert "phone" in entry.changes_dict


def test_system_actor_cannot_log_in(db):
    user = system_user()
    assert not user.is_active and not user.has_usable_password()


def test_change_through_a_request_is_attributed_to_the_user(client, admin_user, north):
    patient = factories.patient(north)
    client.force_login(admin_user)
    url = f"/admin/healthops/patient/{patient.pk}/change/"
    form = {f: getattr(patient, f) or "" for f in ("mrn", "given_name", "family_name", "sex", "language")}
    form.update(birth_date=patient.birth_date.isoformat(), phone="555-0199", email="", address_line="", city="",
                state="", postal_code="", home_site=north.pk)
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:500]
    entry = LogEntry.objects.get_for_object(patient).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == admin_user


def test_override_needs_reason_and_justification(coordinator):
    with pytest.raises(DomainError, match="reason"):
        override_record(rule="booking.capacity", subject="referral/1", reason_code="because",
                        justification="Patient travels far", actor=coordinator)
    with pytest.raises(DomainError, match="justification"):
        override_record(rule="booking.capacity", subject="referral/1", reason_code="clinical-urgency",
                        justification="ok", actor=coordinator)
    assert not Override.objects.exists()
    assert not Event.objects.filter(type__contains="override").exists()


def test_override_is_recorded_audited_and_emitted(coordinator):
    with acting_as(coordinator):
        override = override_record(rule="booking.capacity", subject="referral/7", reason_code="clinical-urgency",
                                   justification="Oncology follow-up cannot wait two weeks", actor=coordinator)
    event = Event.objects.get(type="org.healthops.override.recorded.v1")
    assert event.subject == "referral/7" and event.actor == coordinator
    assert event.data["rule"] == "booking.capacity" and event.data["override_id"] == override.pk
    assert LogEntry.objects.get_for_object(override).get().actor == coordinator


def test_management_commands_record_the_system_actor(db):
    """seed_demo runs as the system actor: its audit entries carry it."""
    call_command("seed_demo", "--no-users", verbosity=0)
    entries = LogEntry.objects.filter(action=LogEntry.Action.CREATE)
    assert entries.exists()
    assert set(entries.values_list("actor__username", flat=True).distinct()) == {SYSTEM_USERNAME}


def test_an_audited_save_reads_no_reverse_relation(north):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from referrals.models import Referral

    referral = factories.referral(north, factories.patient(north))
    with acting_as(), CaptureQueriesContext(connection) as queries:
        referral.stage_reason = "Checked"
        referral.save()
    touched = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("partners_partnerreferral", "referrals_referralprocess", "dashboards_referralfacts"):
        assert table not in touched
    entry = LogEntry.objects.get_for_object(referral).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.changes_dict["stage_reason"][1] == "Checked"
    assert Referral.objects.get(pk=referral.pk).stage_reason == "Checked"
