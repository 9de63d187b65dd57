from django.apps import AppConfig


class AuthorizationsConfig(AppConfig):
    name = "authorizations"
    verbose_name = "Payers and authorizations"

    def ready(self):
        from auditlog.registry import auditlog

        from . import models

        for name in "Payer Coverage PayerRule EligibilityCheck Authorization".split():
            auditlog.register(getattr(models, name))
