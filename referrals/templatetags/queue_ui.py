"""Display helpers of the work queues: task titles from the flow, days waiting."""

import functools
from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@functools.cache
def _titles() -> dict[str, str]:
    from referrals.flows import ReferralFlow
    from referrals.steps import TASK_STAGE

    return {name: getattr(ReferralFlow, name).task_title for name in TASK_STAGE}


@register.filter
def task_title(task_type: str) -> str:
    """The human task's title, as its flow node's annotation says it ("Get the missing documents")."""
    return _titles().get(task_type, task_type.replace("_", " ").capitalize())


@register.filter
def days_waiting(since: datetime | None) -> int | str:
    """Whole days since a moment (the referral's arrival), for the "days waiting" column."""
    if not since:
        return ""
    return max(0, (timezone.now() - since).days)
