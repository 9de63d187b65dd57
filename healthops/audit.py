"""Who did it: the request's user in web requests (AuditlogMiddleware), an explicit system actor for jobs and commands."""

import contextlib
import contextvars

from auditlog.context import set_actor
from django.contrib.auth import get_user_model

SYSTEM_USERNAME = "healthops-system"
# The system actor while a job acts as it (acting_as()): read once per job rather than at every step.
_acting_system = contextvars.ContextVar("acting_system_user", default=None)


def system_user():
    """The actor recorded for background jobs, management commands and automated steps. It cannot log in."""
    if (current := _acting_system.get()) is not None:
        return current
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
    token = _acting_system.set(actor) if user is None else None
    try:
        with set_actor(actor):
            yield actor
    finally:
        if token is not None:
            _acting_system.reset(token)


def audit_register(model, **options) -> None:
    """Register a model with django-auditlog, tracking its own fields only: auditlog would otherwise read every reverse
    relation on each save (a query per reverse one-to-one, e.g. a referral's process and facts) to log nothing."""
    from auditlog.registry import auditlog

    reverse = [f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete]
    auditlog.register(model, exclude_fields=reverse, **options)


def save_audited(instance, *, before, update_fields: list[str]) -> None:
    """Save `update_fields` of `instance` and audit-log the change from `before` (a copy taken under the row lock, by
    the caller that changed it). The same log entry auditlog's receiver writes, without its re-read of the row."""
    from auditlog.context import disable_auditlog
    from auditlog.models import LogEntry
    from auditlog.receivers import _create_log_entry  # the receiver's own body (django-auditlog 3)
    from django.conf import settings

    with disable_auditlog():
        instance.save(update_fields=update_fields)
    _create_log_entry(action=LogEntry.Action.UPDATE, instance=instance, sender=type(instance), diff_old=before,
                      diff_new=instance, fields_to_check=update_fields,
                      use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES)
