"""django-q2 entry points for partners: the idempotency record cleanup."""

SCHEDULES = {"partners: forget idempotency keys older than 24 h": ("partners.tasks.idempotency_purge", 60)}


def idempotency_purge() -> int:
    from .services import idempotency_purge as purge

    return purge()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1})
