"""django-q2 entry points for staffing: the daily roster pull and the daily alerts and labor-cost run."""

import logging
from datetime import timedelta

from django.utils import timezone

from healthops.errors import DomainError

log = logging.getLogger(__name__)
ROSTER_PULL_SCHEDULE = "staffing: pull the roster (next 6 weeks)"
DAILY_SCHEDULE = "staffing: credential and overtime alerts, labor cost to the ERP"
PULL_DAYS = 42


def pull_roster() -> int | None:
    """Import the next six weeks from the workforce system. Idempotent: a second run the same day changes nothing."""
    from healthops.audit import acting_as

    from .services import roster_pull

    today = timezone.localdate()
    with acting_as() as actor:
        try:
            return roster_pull(start=today, end=today + timedelta(days=PULL_DAYS - 1), actor=actor).pk
        except DomainError as exc:  # recorded in IntegrationCall; the next run tries again
            log.warning("roster pull skipped: %s", exc.message)
            return None


def daily_staffing() -> dict:
    """Credential expiry alerts, overtime risk for next week, labor cost for last week and this week (each idempotent)."""
    from healthops.audit import acting_as

    from .selectors import monday
    from .services import credential_expiry_alerts, labor_cost_publish, overtime_alerts

    this_week = monday(timezone.localdate())
    with acting_as() as actor:
        published = []
        for week in (this_week - timedelta(days=7), this_week):
            published += labor_cost_publish(week_start=week, actor=actor)
        return {"credential_alerts": credential_expiry_alerts(actor=actor),
                "overtime_alerts": overtime_alerts(week_start=this_week + timedelta(days=7), actor=actor),
                "labor_cost_events": len(published)}


def ensure_schedules() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=ROSTER_PULL_SCHEDULE,
        defaults={"func": "staffing.tasks.pull_roster", "schedule_type": Schedule.DAILY, "repeats": -1})
    Schedule.objects.update_or_create(
        name=DAILY_SCHEDULE,
        defaults={"func": "staffing.tasks.daily_staffing", "schedule_type": Schedule.DAILY, "repeats": -1})
