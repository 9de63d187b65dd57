"""django-q2 entry points for the work queues."""

SCHEDULES = {
    "referrals: fire due flow timers and conditions": ("referrals.tasks.flow_dispatch", 1),
    "referrals: end holds that are due": ("referrals.tasks.release_due_holds", 1),
}


def flow_dispatch() -> int:
    """viewflow's dispatcher: SLA timers (escalation) and conditional catches (waiting for a payer's decision)."""
    from viewflow.workflow.timers import fire_due_conditions

    from healthops.audit import acting_as

    from .flows import ReferralFlow
    from .sla import fire_due_timers

    fired = fire_due_timers()
    with acting_as():
        return fired + fire_due_conditions(flows=[ReferralFlow])


def release_due_holds() -> int:
    from healthops.audit import acting_as

    from .work import release_due_holds as release

    with acting_as():
        return release()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    Schedule.objects.filter(func="referrals.tasks.escalate_overdue").delete()  # replaced by flow_dispatch
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1})
