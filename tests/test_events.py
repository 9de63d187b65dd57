"""The event log: CloudEvents envelope, same transaction as the change, append-only."""

import pytest
from django.db import DatabaseError, connection, transaction

from healthops.audit import system_user
from healthops.events import emit
from healthops.models import Event, EventLogIsAppendOnly
from referrals.models import Referral

from . import factories

pytestmark = pytest.mark.django_db


def test_service_writes_one_cloudevent(north):
    referral = factories.referral(north, priority="urgent")
    event = Event.objects.get(subject=referral.subject)
    envelope = event.as_cloudevent()
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "org.healthops.referral.received.v1"
    assert envelope["source"] == "/healthops/referrals"
    assert envelope["data"]["priority"] == "urgent"
    assert "family_name" not in str(envelope["data"])  # ids and codes, not demographics


def test_event_rolls_back_with_its_transaction(north):
    before_events, before_referrals = Event.objects.count(), Referral.objects.count()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            factories.referral(north)
            raise RuntimeError("the change fails after the event was written")
    assert Event.objects.count() == before_events
    assert Referral.objects.count() == before_referrals



@pytest.mark.django_db(transaction=True)
def test_emit_outside_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        emit("referral.received", subject="referral/1", source="referrals")


def test_events_cannot_be_changed_or_deleted_through_the_orm(db):
    with transaction.atomic():
        event = emit("test.happened", subject="test/1", source="tests", actor=system_user())
    event.subject = "test/2"
    with pytest.raises(EventLogIsAppendOnly):
        event.save()
    with pytest.raises(EventLogIsAppendOnly):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database-level guard is a PostgreSQL trigger")
def test_database_refuses_update_and_delete_of_events(db):
    with transaction.atomic():
        event = emit("test.happened", subject="test/1", source="tests")
    for statement in ("UPDATE healthops_event SET subject = 'x' WHERE sequence = %s",
                      "DELETE FROM healthops_event WHERE sequence = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [event.sequence])
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            Event.objects.filter(pk=event.pk).update(subject="x")
    assert Event.objects.get(pk=event.pk).subject == "test/1"
