from django.apps import AppConfig


class StaffingConfig(AppConfig):
    name = "staffing"
    verbose_name = "Staffing"

    def ready(self):
        from auditlog.registry import auditlog

        from . import models

        for name in "Specialty CredentialKind StaffMember Credential Shift TimeOff".split():
            auditlog.register(getattr(models, name))
