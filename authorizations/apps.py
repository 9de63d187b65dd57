from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .tasks import ensure_schedules

    ensure_schedules()


class AuthorizationsConfig(AppConfig):
    name = "authorizations"
    verbose_name = "Payers and authorizations"

    def ready(self):
        from healthops.audit import audit_register

        from . import models

        for name in "Payer Coverage PayerRule EligibilityCheck Authorization Appeal".split():
            audit_register(getattr(models, name))
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="authorizations-after-migrate")
