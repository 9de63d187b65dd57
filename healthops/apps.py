from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .permissions import ensure_roles
    from .tasks import ensure_schedules

    ensure_roles()
    ensure_schedules()


class HealthOpsConfig(AppConfig):
    name = "healthops"
    verbose_name = "Network and patients"

    def ready(self):
        from . import models, pgtime
        from .audit import audit_register

        pgtime.install()

        for model in (models.Organization, models.Site, models.Department, models.Patient, models.Resource,
                      models.Override, models.UserProfile):
            audit_register(model, m2m_fields={"sites"} if model is models.UserProfile else None)
        # After the last app migrates, so every domain permission exists.
        post_migrate.connect(_after_migrate, dispatch_uid="healthops-after-migrate")
