"""SLA timers on the ReferralFlow's human tasks: viewflow `.OnTimeout` boundaries fired by its timer dispatcher.

Every human task carries a non-interrupting timer boundary armed at the task's SLA due moment (`WorkItem.due_at`,
from the rule console's TaskSLA). When it fires, the task stays where it is and is escalated to the leads
(`task.escalated`). A hold stops the clock: the timer is disarmed (no due moment) and re-armed at the due moment
moved by the time the task waited.
"""

from datetime import UTC, datetime

from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from healthops.audit import system_user
from healthops.events import emit

from .models import WorkItem

# The far future stands for "no due moment" while a task is held: the dispatcher fires timers due by now.
PAUSED = datetime(9999, 1, 1, tzinfo=UTC)


def _item(**lookup) -> WorkItem | None:
    return WorkItem.objects.filter(**lookup).select_related("referral", "task").first()


def due(activation) -> datetime:
    """The timer boundary's delay: when the host task's SLA runs out (opened by `steps.open_work_item` just before
    the boundary is armed)."""
    item = _item(task__leading=activation.task)  # the timer's host task
    if item is None:  # a task opened without queue facts cannot breach anything
        return PAUSED
    return PAUSED if item.held_since else item.due_at


def breached(activation) -> None:
    """The timer fired before the task was done: escalate it to the leads, once, with `task.escalated`."""
    item = _item(task__leading__leading=activation.task)  # host -> timer -> this step
    if item is None or item.completed_at or item.escalated_at:
        return
    item.escalated_at = timezone.now()
    item.save(update_fields=["escalated_at"])
    emit("task.escalated", subject=item.referral.subject, source="referrals", actor=system_user(),
         data={"task_id": item.task_id, "task_type": item.task_type, "due_at": item.due_at.isoformat(),
               "permission": item.task.owner_permission})


def rearm(item: WorkItem) -> None:
    """Point the task's SLA timer at its current due moment (PAUSED while held)."""
    Task.objects.filter(previous=item.task_id, flow_task_type="TIMER", status=STATUS.SCHEDULED).update(
        scheduled=PAUSED if item.held_since else item.due_at)


def fire_due_timers() -> int:
    """The dispatcher (django-q2 schedule, every minute): fire every due viewflow timer, as the system user."""
    from viewflow.workflow.timers import fire_due_timers as fire

    from healthops.audit import acting_as

    with acting_as():  # each timer fires in its own transaction under its process lock
        return fire()
