"""django-q2 entry points of the dashboards: keep the rollup up to date with the event log."""

SCHEDULE = "dashboards: refresh facts"


def refresh_dashboard_facts() -> dict:
    from .facts import refresh_access, refresh_facts

    result = refresh_facts()
    result["access"] = refresh_access()
    return result


def ensure_schedules() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(name=SCHEDULE, defaults={
        "func": "dashboards.tasks.refresh_dashboard_facts", "schedule_type": Schedule.MINUTES, "minutes": 1,
        "repeats": -1})
