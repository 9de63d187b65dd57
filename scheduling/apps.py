from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .tasks import ensure_schedules

    ensure_schedules()


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        from healthops.audit import audit_register

        from . import models

        # Not BookedResource: its rows are written in one INSERT with their booking (no per-row signals), and the
        # resources held are in the booking's `appointment.booked` event and the Booking's audit entry.
        for name in ("RoomKind EquipmentKind DocumentKind ServiceType Room Equipment Booking Appointment "
                     "WeeklyAvailability AvailabilityException WaitlistEntry WaitlistOffer").split():
            audit_register(getattr(models, name))
        from . import waitlist  # noqa: F401  (subscribes to the events that free slots)

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="scheduling-after-migrate")
