"""django-q2 entry points for payer work. Each is idempotent: django-q2 delivers at least once."""

from healthops.audit import acting_as

SCHEDULES = {
    "authorizations: retry unreachable eligibility": ("authorizations.tasks.retry_eligibility", 2),
    "authorizations: follow up pended authorizations": ("authorizations.tasks.follow_up_pended", 5),
    "authorizations: resend failed submissions": ("authorizations.tasks.retry_submissions", 2),
    "authorizations: alert expiring authorizations": ("authorizations.tasks.alert_expiring", 60),
}


def check_eligibility(coverage_id: int, purpose: str = "validation") -> str:
    from .models import Coverage
    from .payer import eligibility_check

    with acting_as() as actor:
        coverage = Coverage.objects.select_related("payer").get(pk=coverage_id)
        return eligibility_check(coverage=coverage, actor=actor, purpose=purpose).outcome


def submit_authorization(authorization_id: int) -> str:
    from .models import Authorization
    from .payer import authorization_submit

    with acting_as() as actor:
        outcome = authorization_submit(authorization=Authorization.objects.get(pk=authorization_id), actor=actor)
        return outcome.authorization.status


def retry_eligibility() -> int:
    from .payer import retry_unreachable_eligibility

    with acting_as() as actor:
        return retry_unreachable_eligibility(actor=actor)


def follow_up_pended() -> int:
    from .payer import follow_up_pended as follow_up

    with acting_as() as actor:
        return follow_up(actor=actor)


def retry_submissions() -> int:
    from .payer import retry_unsent

    with acting_as() as actor:
        return retry_unsent(actor=actor)


def alert_expiring() -> int:
    from .payer import alert_expiring as alert

    with acting_as() as actor:
        return alert(actor=actor)


def ensure_schedules() -> None:
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1})
