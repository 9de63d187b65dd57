from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .tasks import ensure_schedules

    ensure_schedules()


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners (API clients, idempotency, webhooks)"

    def ready(self):
        from . import handlers, schema  # noqa: F401  (event subscription; OpenAPI auth extensions)

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="partners-after-migrate")
