"""Partner webhooks receive only events about their own referrals (and those referrals' appointments).

`healthops.events.emit` owes every event to each subscription that wants its type; this reaction, running in the same
transaction, withdraws what a partner's subscription must not see before anything is delivered."""

from healthops.events import subscribe
from healthops.models import Delivery, Event


def subject_partner_id(subject: str) -> int | None:
    """The partner organization that owns the subject of an event, if any."""
    from referrals.models import Referral, ReferralAppointment

    kind, _, raw = subject.partition("/")
    if not raw.isdigit():
        return None
    if kind == "referral":
        return Referral.objects.filter(pk=int(raw)).values_list("partner_id", flat=True).first()
    if kind == "appointment":
        return (ReferralAppointment.objects.filter(appointment_id=int(raw))
                .values_list("referral__partner_id", flat=True).first())
    return None


@subscribe("*")
def _withhold_from_other_partners(event: Event) -> None:
    written = getattr(event, "owed", None)  # what emit() owed, when it is the caller
    if written is not None and not any(d.subscription.partner_id for d in written):
        return  # nothing owed to a partner: nothing to withhold, no query
    owed = Delivery.objects.filter(event=event, subscription__partner__isnull=False)
    owner = subject_partner_id(event.subject) if event.subject.startswith(("referral/", "appointment/")) else None
    if owner is not None:
        owed = owed.exclude(subscription__partner_id=owner)
    owed.delete()
