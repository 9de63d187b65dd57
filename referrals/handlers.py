"""How referrals follow changes made below them: reactions to events, run in the emitting transaction."""

from healthops.events import subscribe
from healthops.models import Event
from scheduling.models import Appointment, WaitlistEntry

from .models import ReferralAppointment
from .services import referral_link_appointment, referral_sync_units


@subscribe("appointment.rescheduled")
def follow_rescheduled_appointment(event: Event) -> None:
    """The new appointment belongs to the referral the old one did."""
    link = ReferralAppointment.objects.select_related("referral").filter(appointment_id=event.data["appointment_id"]).first()
    if link is None:
        return

    new = Appointment.objects.get(pk=event.data["new_appointment_id"])
    referral_link_appointment(referral=link.referral, appointment=new, actor=event.actor)


@subscribe("waitlist.offer-accepted")
def follow_waitlist_booking(event: Event) -> None:
    """A patient who moved up from the waitlist keeps the referral of the appointment they gave up."""

    entry = WaitlistEntry.objects.get(pk=event.data["waitlist_entry_id"])
    if not entry.current_appointment_id:
        return
    link = ReferralAppointment.objects.select_related("referral").filter(appointment_id=entry.current_appointment_id).first()
    if link is not None:
        referral_link_appointment(referral=link.referral, appointment=Appointment.objects.get(pk=event.data["appointment_id"]),
                                  actor=event.actor)


@subscribe("appointment.cancelled")
@subscribe("appointment.noshow")
@subscribe("appointment.enteredinerror")
def release_authorization_unit(event: Event) -> None:
    """A released appointment gives its unit back to the referral's authorization."""
    link = ReferralAppointment.objects.select_related("referral").filter(appointment_id=event.data["appointment_id"]).first()
    if link is not None:
        referral_sync_units(referral=link.referral, actor=event.actor)
