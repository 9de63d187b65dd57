from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .tasks import ensure_schedules

    ensure_schedules()


class StaffingConfig(AppConfig):
    name = "staffing"
    verbose_name = "Staffing"

    def ready(self):
        from healthops.audit import audit_register

        from . import models

        for name in "Specialty CredentialKind StaffMember Credential Shift TimeOff StaffingSettings".split():
            audit_register(getattr(models, name))
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="staffing-after-migrate")
