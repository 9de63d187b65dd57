from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, **kwargs):
    from .tasks import ensure_schedules

    ensure_schedules()


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        from healthops.audit import audit_register

        from . import models

        for name in "Referral ReferralDocument ReferralAppointment ReferralAuthorization TaskSLA WorkItem".split():
            audit_register(getattr(models, name))
        from . import flows, handlers, work  # noqa: F401  (flows before post_migrate; event subscriptions)

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="referrals-after-migrate")
