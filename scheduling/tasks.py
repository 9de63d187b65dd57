"""django-q2 entry points for scheduling."""

EXPIRE_OFFERS_SCHEDULE = "scheduling: expire waitlist offers"


def expire_waitlist_offers() -> int:
    from .waitlist import expire_offers

    return expire_offers()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=EXPIRE_OFFERS_SCHEDULE,
        defaults={"func": "scheduling.tasks.expire_waitlist_offers", "schedule_type": Schedule.MINUTES, "minutes": 1,
                  "repeats": -1},
    )
