from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        from auditlog.registry import auditlog

        from . import models

        for name in "Referral ReferralDocument ReferralAppointment ReferralAuthorization".split():
            auditlog.register(getattr(models, name))
        from . import handlers  # noqa: F401  (event subscriptions)
