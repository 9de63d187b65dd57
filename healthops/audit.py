"""Who did it: the request's user in web requests (AuditlogMiddleware), an explicit system actor for jobs and commands."""

import contextlib

from auditlog.context import set_actor
from django.contrib.auth import get_user_model

SYSTEM_USERNAME = "healthops-system"


def system_user():
    """The actor recorded for background jobs, management commands and automated steps. It cannot log in."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"first_name": "HealthOps", "last_name": "automation", "is_active": False},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@contextlib.contextmanager
def acting_as(user=None):
    """Attribute audit log entries made inside the block to `user` (the system actor when None)."""
    actor = user or system_user()
    with set_actor(actor):
        yield actor


def audit_register(model, **options) -> None:
    """Register a model with django-auditlog, tracking its own fields only: auditlog would otherwise read every reverse
    relation on each save (a query per reverse one-to-one, e.g. a referral's process and facts) to log nothing."""
    from auditlog.registry import auditlog

    reverse = [f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete]
    auditlog.register(model, exclude_fields=reverse, **options)
