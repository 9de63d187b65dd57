"""django-q2 entry points for the work queues."""

SCHEDULES = {
    "referrals: escalate overdue tasks": ("referrals.tasks.escalate_overdue", 1),
    "referrals: end holds that are due": ("referrals.tasks.release_due_holds", 1),
}


def escalate_overdue() -> int:
    from healthops.audit import acting_as

    from .work import escalate_overdue as escalate

    with acting_as():
        return escalate()


def release_due_holds() -> int:
    from healthops.audit import acting_as

    from .work import release_due_holds as release

    with acting_as():
        return release()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1})
