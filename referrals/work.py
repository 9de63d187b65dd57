"""Human work on referrals: starting the flow, and claiming, assigning, holding, escalating and completing tasks.

Every function here is the one way its change happens: it takes the flow's process lock, records the queue facts
(`WorkItem`), emits `task.*` events (which the dashboards count as manual touches) and lets the flow move on.
"""

from contextlib import contextmanager
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from viewflow.workflow.status import STATUS

from healthops.audit import system_user
from healthops.errors import DomainError, InvalidTransition, NotAllowed
from healthops.events import emit, subscribe
from healthops.models import Event

from . import sla
from .models import Referral, ReferralProcess, WorkItem

OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
LEAD_PERMISSION = "referrals.can_lead"


def referral_start_flow(*, referral: Referral) -> ReferralProcess | None:
    """Start the ReferralFlow for a referral, once (None when it has one already). Its first jobs run after the
    surrounding transaction commits."""
    from .flows import ReferralFlow

    if ReferralProcess.objects.filter(referral=referral).exists():
        return None
    return ReferralFlow.start.run(referral=referral)


def referral_start_flow_later(*, referral: Referral) -> None:
    """Start the flow on the worker. The django-q2 message goes to the ORM broker inside the caller's transaction
    (durable with the referral; redelivered if a worker dies); with Q_SYNC it runs here and now."""
    from .qjob import enqueue_here

    enqueue_here("referrals.work.start_flow_job", referral.pk, task_name=f"flow-start-{referral.pk}")


def start_flow_job(referral_pk: int) -> str:
    """The django-q2 entry point of `referral_start_flow_later` (idempotent: a redelivery finds the flow started).
    Its first jobs run right after it, in this worker."""
    from .qjob import run_chained

    return run_chained(lambda: _start_flow(referral_pk))


def _start_flow(referral_pk: int) -> str:
    with transaction.atomic():
        # With what the first routing steps read (the service, the coverage's payer), locking the referral only.
        referral = (Referral.objects.select_for_update(of=("self",)).select_related("service_type", "coverage__payer")
                    .filter(pk=referral_pk).first())
        if referral is None or not referral.is_open or referral_start_flow(referral=referral) is None:
            return "skipped"
    return "started"


@contextmanager
def _working(task):
    """The task's activation under the flow's process lock, refusing finished tasks."""
    from .flows import ReferralFlow

    task = ReferralFlow.task_class._default_manager.get(pk=task.pk)
    with task.activation() as activation:
        if activation.task.status not in OPEN:
            raise InvalidTransition("This task is already finished.")
        yield activation


def may_work(user, task) -> bool:
    return user.is_superuser or user.has_perm(task.owner_permission) or user.has_perm(LEAD_PERMISSION)


def task_claim(*, task, actor) -> None:
    """Take an unassigned task from the team queue."""
    with _working(task) as activation:
        task = activation.task
        if not may_work(actor, task):
            raise NotAllowed("This task belongs to another team.")
        if task.owner_id and task.owner_id != actor.pk:
            raise InvalidTransition(f"{task.owner.get_full_name() or task.owner.username} already took this task.")
        if task.owner_id == actor.pk:
            return
        activation.assign(actor)
        emit("task.assigned", subject=task.work_item.referral.subject, source="referrals", actor=actor,
             data={"task_id": task.pk, "task_type": task.work_item.task_type, "assignee": actor.pk, "claimed": True})


def task_release(*, task, actor) -> None:
    """Put a task back in the team queue."""
    with _working(task) as activation:
        task = activation.task
        if task.owner_id != actor.pk and not actor.has_perm(LEAD_PERMISSION):
            raise NotAllowed("Only the assignee or a lead can release this task.")
        if task.owner_id is None:
            return
        _unassign(task)
        emit("task.released", subject=task.work_item.referral.subject, source="referrals", actor=actor,
             data={"task_id": task.pk, "task_type": task.work_item.task_type})


def _unassign(task) -> None:
    task.owner = None
    task.status = STATUS.NEW
    task.save(update_fields=["owner", "status"])


def task_assign(*, task, assignee, actor) -> None:
    """A lead assigns or reassigns a task to someone who may work it."""
    if not (actor.is_superuser or actor.has_perm(LEAD_PERMISSION)):
        raise NotAllowed("Only leads can assign tasks to others.")
    with _working(task) as activation:
        task = activation.task
        if not (assignee.is_active and (assignee.has_perm(task.owner_permission) or assignee.has_perm(LEAD_PERMISSION))):
            raise DomainError(f"{assignee.get_full_name() or assignee.username} cannot work this kind of task.")
        previous = task.owner_id
        task.owner, task.status = assignee, STATUS.ASSIGNED
        task.save(update_fields=["owner", "status"])
        emit("task.assigned", subject=task.work_item.referral.subject, source="referrals", actor=actor,
             data={"task_id": task.pk, "task_type": task.work_item.task_type, "assignee": assignee.pk,
                   "previous": previous})


def tasks_assign_bulk(*, tasks, assignee, actor) -> int:
    done = 0
    for task in tasks:
        task_assign(task=task, assignee=assignee, actor=actor)
        done += 1
    return done


def task_hold(*, task, actor, until: datetime | None = None, event: str = "", note: str = "") -> None:
    """Park a task until a date or until an event about its referral arrives; its SLA clock stops meanwhile."""
    if not until and not event:
        raise DomainError("Say until when, or until which event, the task waits.")
    if until and until <= timezone.now():
        raise DomainError("The hold must end in the future.")
    if event and event not in HOLD_EVENTS:
        raise DomainError(f"A task can wait for one of: {', '.join(HOLD_EVENTS)}.")
    with _working(task) as activation:
        task = activation.task
        if not may_work(actor, task):
            raise NotAllowed("This task belongs to another team.")
        item = task.work_item
        item.hold_until, item.hold_event, item.held_since = until, event, timezone.now()
        item.save(update_fields=["hold_until", "hold_event", "held_since"])
        sla.rearm(item)  # the SLA clock stops
        emit("task.held", subject=item.referral.subject, source="referrals", actor=actor,
             data={"task_id": task.pk, "until": until.isoformat() if until else None, "event": event,
                   "note": note[:200]})


def task_resume(*, item: WorkItem, actor, why: str) -> None:
    """End a hold: the task is back in its queue, with its SLA due moved by the time it waited."""
    if item.held_since is None:
        return
    waited = timezone.now() - item.held_since
    item.due_at += waited
    item.hold_until, item.hold_event, item.held_since = None, "", None
    item.save(update_fields=["due_at", "hold_until", "hold_event", "held_since"])
    sla.rearm(item)
    emit("task.resumed", subject=item.referral.subject, source="referrals", actor=actor,
         data={"task_id": item.task_id, "why": why, "waited_seconds": int(waited.total_seconds())})


def release_due_holds(*, now: datetime | None = None) -> int:
    due = WorkItem.objects.filter(completed_at__isnull=True, held_since__isnull=False, hold_until__lte=now or timezone.now())
    count = 0
    for item in due.select_related("referral"):
        with transaction.atomic():
            task_resume(item=item, actor=system_user(), why="hold date reached")
        count += 1
    return count


# Events a task can be held until (about its referral): each ends the hold when it arrives.
HOLD_EVENTS = ("referral.document-added", "referral.note-added", "referral.patient-matched")


def _release_holds_on_event(event: Event) -> None:
    if not event.subject.startswith("referral/"):
        return
    for item in WorkItem.objects.filter(referral_id=int(event.subject.split("/")[1]), completed_at__isnull=True,
                                        held_since__isnull=False, hold_event=event.short_type).select_related("referral"):
        task_resume(item=item, actor=event.actor or system_user(), why=f"{event.short_type} arrived")


for _type in HOLD_EVENTS:
    subscribe(_type)(_release_holds_on_event)


def task_complete(*, task, actor, outcome: str, facts: dict | None = None, automatic: bool = False) -> None:
    """Finish a human task: set the routing facts the person decided, and let the flow move on."""
    with _working(task) as activation:
        task = activation.task
        if not automatic and not may_work(actor, task):
            raise NotAllowed("This task belongs to another team.")
        if task.owner_id and task.owner_id != actor.pk and not (automatic or actor.has_perm(LEAD_PERMISSION)):
            raise NotAllowed("Someone else is working this task; ask them or a lead to reassign it.")
        if task.status == STATUS.NEW:
            activation.assign(actor)
        elif task.owner_id != actor.pk:
            task.owner = actor
            task.save(update_fields=["owner"])
        process = activation.process  # the ReferralProcess: routing reads the facts set here
        for name, value in (facts or {}).items():
            setattr(process, name, value)
        if facts:
            process.save(update_fields=list(facts))
        activation.start(None)
        item = task.work_item
        item.completed_at, item.completed_by, item.outcome = timezone.now(), actor, outcome[:300]
        item.save(update_fields=["completed_at", "completed_by", "outcome"])
        emit("task.completed", subject=item.referral.subject, source="referrals", actor=actor,
             data={"task_id": task.pk, "task_type": item.task_type, "outcome": outcome[:200], "manual": not automatic,
                   "seconds_open": int((item.completed_at - item.created_at).total_seconds())})
        activation.execute()


def open_task(referral: Referral | int, task_type: str):
    item = (WorkItem.objects.filter(referral=referral, task_type=task_type, completed_at__isnull=True)
            .select_related("task").first())
    return item.task if item else None


@subscribe("authorization.decided")
@subscribe("authorization.appeal-decided")
def _payer_decided(event: Event) -> None:
    """A decision that arrives while a person waits for it completes their follow-up task: the flow moves on."""
    from authorizations.models import Authorization

    auth = Authorization.objects.get(pk=event.data["authorization_id"])
    if auth.status in ("pended", "submitted"):
        return
    for referral in auth.referrals.all():
        task = open_task(referral, "auth_follow_up")
        if task is not None:
            task_complete(task=task, actor=system_user(), automatic=True, facts={"auth_status": auth.status},
                          outcome=f"Payer decided: {auth.get_status_display()}")
        _fire_waiting_catch(referral)


def _fire_waiting_catch(referral: Referral) -> None:
    """A referral booked by override waits for the decision at the flow's conditional catch: fire it now rather than
    at the dispatcher's next sweep."""
    from .flows import ReferralFlow

    for task in ReferralFlow.task_class._default_manager.filter(
            process__referralprocess__referral=referral, flow_task=ReferralFlow.await_payer, status=STATUS.NEW):
        with task.activation() as activation:
            if activation.start.can_proceed() and activation.condition_met():
                activation.start()
                activation.execute()


@subscribe("eligibility.checked")
def _eligibility_arrived(event: Event) -> None:
    """A retry that reaches the payer completes the manual verification task it was standing in for."""
    if event.data.get("outcome") != "in-force" or event.data.get("source") != "payer-api":
        return
    for item in WorkItem.objects.filter(referral__coverage_id=event.data["coverage_id"], task_type="verify_eligibility",
                                        completed_at__isnull=True).select_related("task"):
        task_complete(task=item.task, actor=system_user(), automatic=True, facts={"eligibility": "in-force"},
                      outcome="The payer confirmed the coverage on a later try")


def users_who_may_work(task):
    User = get_user_model()
    app_label, codename = task.owner_permission.split(".")
    return User.objects.filter(is_active=True).filter(
        models_q_perm(app_label, codename)).distinct().order_by("username")


def models_q_perm(app_label: str, codename: str):
    from django.db.models import Q

    return (Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label)
            | Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
            | Q(is_superuser=True))


def auth_pending_override(*, task, actor, reason_code: str, justification: str) -> None:
    """Book before the payer decides (urgent clinical need): needs the permission, a reason and a justification;
    recorded as an override, and the flow goes on to booking while the authorization stays pending."""
    from healthops.overrides import override_record

    if not actor.has_perm("referrals.can_override"):
        raise NotAllowed("Booking before the payer decides needs the override permission.")
    with transaction.atomic():
        item = WorkItem.objects.select_related("referral").get(task_id=task.pk)
        if item.task_type != "auth_follow_up":
            raise DomainError("This override applies to a referral waiting for the payer's decision.")
        override_record(rule="referral.book-before-authorization", subject=item.referral.subject, actor=actor,
                        reason_code=reason_code, justification=justification, data={"task_id": task.pk})
        task_complete(task=task, actor=actor, facts={"auth_overridden": True},
                      outcome=f"Booked before the payer decided: {justification}")


@subscribe("referral.booked")
def _booked_elsewhere(event: Event) -> None:
    """Booked from the referral page or the board while a 'Book an appointment' task is open: that task is done."""
    task = open_task(event.data["referral_id"], "schedule")
    if task is not None:
        task_complete(task=task, actor=event.actor or system_user(), automatic=True, facts={"booked": True},
                      outcome="Booked")
