"""A new referral's flow starts on the worker: its start message is written with the referral, in one transaction."""

import pytest
from django.db import transaction
from django_q.models import OrmQ

from healthops.audit import system_user
from healthops.models import Organization
from referrals.management.commands.find_orphans import pending_starts, without_flow
from referrals.models import Referral, ReferralProcess
from referrals.services import referral_intake
from referrals.work import start_flow_job

from .. import factories

pytestmark = pytest.mark.django_db(transaction=True)


def intake(north):
    return referral_intake(actor=system_user(), referring_organization=factories.organization(Organization.Kind.PRACTICE),
                           site=north, reason="Rash", source_channel="fax")


def test_the_start_message_is_committed_with_the_referral_and_the_worker_starts_the_flow_once(north):
    referral = intake(north)
    assert OrmQ.objects.count() == 1 and pending_starts() == {referral.pk}
    assert not ReferralProcess.objects.exists()
    assert referral not in without_flow()  # waiting for the worker is not being forgotten

    message = OrmQ.objects.get().task
    assert start_flow_job(*message["args"]) == "started"
    assert start_flow_job(*message["args"]) == "skipped"  # a redelivery after a worker died midway
    process = ReferralProcess.objects.get(referral=referral)
    assert process.task_set.filter(flow_task_type="HUMAN").count() == 1  # no patient: "Match the patient"


def test_a_rolled_back_intake_leaves_no_message(north):
    with pytest.raises(RuntimeError), transaction.atomic():
        intake(north)
        raise RuntimeError("the caller failed after the intake")
    assert not Referral.objects.exists() and not OrmQ.objects.exists()


def test_an_open_referral_with_neither_flow_nor_message_is_listed(north):
    referral = intake(north)
    OrmQ.objects.all().delete()  # as if the broker lost it
    assert list(without_flow()) == [referral]
