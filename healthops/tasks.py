"""django-q2 entry points of the kernel."""

from django.utils import timezone

HEARTBEAT_SCHEDULE = "healthops heartbeat"
OUTBOX_SCHEDULE = "healthops outbox delivery"


def heartbeat() -> str:
    """Runs every minute on the worker; /healthz reads the last run from django-q's results table."""
    return timezone.now().isoformat()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    from .outbox import ensure_erp_subscription

    for name, func in ((HEARTBEAT_SCHEDULE, "healthops.tasks.heartbeat"),
                       (OUTBOX_SCHEDULE, "healthops.outbox.deliver_pending")):
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1})
    ensure_erp_subscription()
