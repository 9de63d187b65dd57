"""Reads for the partner APIs: what one partner (or one logged-in user) may see, with the joins done once."""

from django.db.models import QuerySet
from viewflow.workflow.models import Task

from healthops.models import Delivery, Subscription
from referrals.models import Referral, ReferralAppointment
from referrals.selectors import referrals_visible_to
from scheduling.models import Appointment

from .models import PartnerClient

FLOW_TASK_TYPES = ("HUMAN", "JOB")


def partner_referrals(client: PartnerClient) -> QuerySet[Referral]:
    return (Referral.objects.filter(partner=client.organization)
            .select_related("patient", "service_type", "site", "partner_record", "coverage__payer"))


def referrals_for(*, client: PartnerClient | None, user) -> QuerySet[Referral]:
    """A partner sees only its own referrals; a person sees the referrals of their sites."""
    if client is not None:
        return partner_referrals(client)
    return referrals_visible_to(user).select_related("partner_record")


def appointments_for(*, client: PartnerClient | None, user) -> QuerySet[Appointment]:
    referrals = referrals_for(client=client, user=user)
    return (Appointment.objects.filter(referral_link__referral__in=referrals.values("pk"))
            .select_related("service_type", "site", "referral_link"))


def tasks_for(*, client: PartnerClient | None, user) -> QuerySet[Task]:
    referrals = referrals_for(client=client, user=user)
    return (Task.objects.filter(process__referralprocess__referral__in=referrals.values("pk"),
                                flow_task_type__in=FLOW_TASK_TYPES)
            .select_related("process__referralprocess__referral", "work_item", "owner").order_by("created", "pk"))


def webhooks_for(client: PartnerClient) -> QuerySet[Subscription]:
    return Subscription.objects.filter(partner=client.organization, system="webhook").order_by("pk")


def deliveries_for(client: PartnerClient) -> QuerySet[Delivery]:
    return (Delivery.objects.filter(subscription__partner=client.organization, subscription__system="webhook")
            .select_related("event", "subscription").order_by("-event_id"))


def referral_appointment_ids(referral_ids: list[int]) -> dict[int, int]:
    return dict(ReferralAppointment.objects.filter(referral_id__in=referral_ids)
                .values_list("appointment_id", "referral_id"))


