from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        from auditlog.registry import auditlog

        from . import models

        for name in "RoomKind EquipmentKind DocumentKind ServiceType Room Equipment Booking BookedResource Appointment".split():
            auditlog.register(getattr(models, name))
