"""A viewflow job node that runs on django-q2 (viewflow's own Celery node is in its paid edition only).

The flow reaches the node: the task moves NEW -> SCHEDULED and a django-q2 task is enqueued after commit. The worker
moves it to STARTED under the process lock, runs the body *without* the lock (it may call payers), then, under the
lock again, records the facts the body found on the process (`steps._save`) and completes the task (DONE, next
nodes) or records the error (ERROR, then its failure route). django-q2 delivers at least once; a redelivered job
re-enters from STARTED, and job bodies are idempotent. Each time the lock is taken, one query takes it and reads the
task with its process.

Consecutive jobs run in one worker: a job that a running job (or the flow's start) activates (eligibility -> match ->
notify) runs right after it in the same worker instead of taking a broker round trip. It is started where it is
activated (NEW -> STARTED, in the transaction that settles the job before it, under that lock), and its body runs
from that activation. Its broker message is still written, in the same transaction, but born claimed ("held") for
the broker's retry lease, as if this worker had just dequeued it; the transaction that settles the job deletes it.
If the worker dies midway, the lease runs out and another worker runs the job from STARTED: nothing is lost.

A job's failure path is its own (`.OnFailure(node)`): the exception is recorded on the job's task (ERROR, then
CANCELED, as viewflow's interrupting `.OnError` boundary leaves it) and `node` is activated. The boundary would arm a
task row for every run of every job and cancel it again on success, for the rare failure.
"""

import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager

from django.db import DatabaseError, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task
from viewflow import this
from viewflow.workflow import lock as viewflow_lock
from viewflow.workflow.activation import Activation, has_manage_permission
from viewflow.workflow.base import Edge
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.fields import get_task_ref, import_task_by_ref
from viewflow.workflow.flow import mixins as flow_mixins
from viewflow.workflow.flow import views as flow_views
from viewflow.workflow.nodes import AbstractJob, AbstractJobActivation
from viewflow.workflow.status import STATUS

from .taskwrite import WrittenOnce

log = logging.getLogger(__name__)

# The jobs activated while this thread runs a job, to run next in the same worker (None: not inside run_job).
_worker = threading.local()


class QJobActivation(WrittenOnce, AbstractJobActivation):
    """A job's task is first written here, SCHEDULED or STARTED (referrals.taskwrite), not NEW and then updated."""

    @classmethod
    def _new_task_fields(cls) -> dict:
        return {"external_task_id": str(uuid.uuid4())}  # as viewflow's job create()

    @Activation.status.transition(source=STATUS.NEW, target=STATUS.SCHEDULED)
    def activate(self):
        chain = getattr(_worker, "chain", None)
        if chain is None or not Conf.ORM:
            self.task.save()  # the status machine only changed it in memory: the worker must see SCHEDULED
            self._link()
            args = (get_task_ref(self.flow_task), self.process.pk, self.task.pk)
            transaction.on_commit(lambda: enqueue(*args))
        else:
            # This worker runs it next, from this activation, so it is written STARTED here, under the lock that
            # activates it. In memory it stays SCHEDULED until then: viewflow's routing completes a started job.
            self.task.status, self.task.started = STATUS.STARTED, timezone.now()
            self.task.save()
            self._link()
            args = (get_task_ref(self.flow_task), self.process.pk, self.task.pk)
            self.task.status = STATUS.SCHEDULED
            chained = _Chained(self, None if Conf.SYNC else hold(*args))
            transaction.on_commit(chained.committed)  # not if this transaction rolls back: then it never existed
            chain.append(chained)

    @Activation.status.transition(source=STATUS.ERROR, target=STATUS.CANCELED)
    def route_failure(self):
        """After error(): close the failed task and activate the job's failure node."""
        self.task.finished = timezone.now()
        self.task.save()
        self._activate_next({self.flow_task._on_failure._create(self, self.task.token)})

    @Activation.status.transition(source=[STATUS.NEW, STATUS.SCHEDULED, STATUS.ERROR], target=STATUS.CANCELED,
                                  permission=has_manage_permission)
    def cancel(self):
        # The ORM broker cannot revoke; run_job skips a task that is no longer scheduled.
        self.task.finished = timezone.now()
        self.task.save()


class _Chained:
    """A job to run next in this worker: its activation, its held broker message, and whether the transaction that
    activated it has committed."""

    def __init__(self, activation: QJobActivation, message_pk: int | None):
        self.activation, self.message_pk, self.is_committed = activation, message_pk, False

    def committed(self) -> None:
        self.is_committed = True


def _q_options(task_pk: int, **extra) -> dict:
    # save=False: a job's outcome is its flow task's status (and its error, kept on the task); django-q2 keeps the
    # failures only, and skips its result-table pruning for every success.
    return {"task_name": f"flow-job-{task_pk}", "group": "referral-flow", "save": False, **extra}


class _Broker(ORM):
    """The ORM broker as seen from the code that enqueues: it uses the caller's database connection as it is. (The
    stock one closes "old" connections first, which is right for the cluster's long-lived pusher but, with
    CONN_MAX_AGE=0, makes every enqueue from a request or a job reconnect to the database.)"""

    @staticmethod
    def get_connection(list_key: str | None = None):
        return OrmQ.objects.using(Conf.ORM)


def enqueue_here(func: str, *args, task_name: str) -> None:
    """Enqueue a referral-flow job on the caller's connection (inside its transaction, with the ORM broker)."""
    async_task(func, *args, q_options={"task_name": task_name, "group": "referral-flow", "save": False,
                                       "broker": _Broker() if Conf.ORM else None})


def enqueue(task_ref: str, process_pk: int, task_pk: int) -> None:
    async_task("referrals.qjob.run_job", task_ref, process_pk, task_pk,
               q_options=_q_options(task_pk, broker=_Broker() if Conf.ORM else None))


class _HeldBroker(_Broker):
    """A message that starts out claimed, as if this worker had just dequeued it: no worker takes it before the
    retry lease runs out."""

    message_pk = None

    def enqueue(self, task):
        self.message_pk = self.get_connection().create(key=self.list_key, payload=task, lock=self.timeout(task)).pk
        return self.message_pk


def hold(task_ref: str, process_pk: int, task_pk: int) -> int:
    """Write the job's broker message inside the current transaction, held for this worker; returns its id."""
    broker = _HeldBroker()
    async_task("referrals.qjob.run_job", task_ref, process_pk, task_pk,
               q_options=_q_options(task_pk, broker=broker, sync=False))
    return broker.message_pk


def release(message_pk: int | None) -> None:
    """Hand a held message to the broker now: any worker may take it."""
    if message_pk is not None:
        OrmQ.objects.filter(pk=message_pk).update(lock=timezone.now())


def _settled(message_pk: int | None) -> None:
    """Inside the transaction that settles a chained job: its held message is no longer needed."""
    if message_pk is not None:
        OrmQ.objects.filter(pk=message_pk).delete()


class QJob(AbstractJob):
    activation_class = QJobActivation

    def __init__(self, job, **kwargs):
        super().__init__(**kwargs)
        self._job = job
        self._on_failure = None

    def OnFailure(self, node):  # noqa: N802 - viewflow's builder style
        """The node to activate when the job raises (a person takes over)."""
        self._on_failure = node
        return self

    def _resolve(self, instance):
        super()._resolve(instance)
        self._job = this.resolve(instance, self._job)
        self._on_failure = this.resolve(instance, self._on_failure)

    def _outgoing(self):
        yield from super()._outgoing()
        if self._on_failure is not None:
            yield Edge(src=self, dst=self._on_failure, edge_class="default", label="failed")

    @classmethod
    @contextmanager
    def activate_for(cls, task_ref: str, process_pk: int, task_pk: int, message_pk: int | None = None, *,
                     started: "QJobActivation | None" = None):
        """The job's activation, STARTED, for its body to run in (without the lock); then, under the lock again,
        its outcome: done and routed on, or the error and its failure route. `started`: a chained job that its
        activation already started (QJobActivation.activate)."""
        flow_task = import_task_by_ref(task_ref)
        if started is None:
            with _locked(flow_task, process_pk, task_pk) as activation:
                if not activation.start.can_proceed():  # cancelled, or done by an earlier delivery
                    _settled(message_pk)
                    yield None
                    return
                activation.start()
        else:
            activation = started
        body_process = activation.process
        body_process.job_facts = {}  # what the body records on the process (steps._save), written with its outcome
        try:
            yield activation
        except Exception as exc:
            with _locked(flow_task, process_pk, task_pk) as failed:
                _record_facts(failed.process, body_process.job_facts)
                failed.error(exc)
                if flow_task._on_failure is not None:
                    failed.route_failure()
                _settled(message_pk)
            raise
        else:
            with _locked(flow_task, process_pk, task_pk) as done:
                _record_facts(done.process, body_process.job_facts)
                if done.task.status == STATUS.STARTED:
                    done.execute()
                _settled(message_pk)
        finally:
            del body_process.job_facts


def _record_facts(process, facts: dict) -> None:
    for name, value in facts.items():
        setattr(process, name, value)
    if facts:
        process.save(update_fields=list(facts))


class _TaskLock:
    """viewflow's process lock (SELECT ... FOR UPDATE NOWAIT on the process row, retried with backoff, as the flow's
    `lock_impl`), taken by the query that reads the job's task and process: one statement instead of two."""

    def __init__(self, flow_task, task_pk: int):
        self.flow_task, self.task_pk, self.task = flow_task, task_pk, None

    @contextmanager
    def __call__(self, flow_class, process_pk):
        lock = flow_class.lock_impl
        path = _process_path(flow_class)
        query = (flow_class.task_class._default_manager.select_related(path)
                 .filter(**{f"{path}__isnull": False})  # an inner join: FOR UPDATE cannot lock an outer join's side
                 .select_for_update(nowait=lock.nowait, of=(path,)))
        for attempt in range(lock.attempts):
            with transaction.atomic():
                try:
                    self.task = query.get(pk=self.task_pk, process_id=process_pk)
                except DatabaseError as exc:
                    if attempt == lock.attempts - 1:
                        log.warning("lock failed: %s", exc)
                        raise FlowLockFailed(f"Lock failed for {flow_class}") from None
                    time.sleep(((attempt + 1) * random.random() + 2 ** attempt) / 2.5)
                    continue
                yield
                return


@contextmanager
def _locked(flow_task, process_pk: int, task_pk: int):
    """The job task's activation under the flow's process lock (with viewflow's after-lock callbacks)."""
    lock_impl = _TaskLock(flow_task, task_pk)
    with viewflow_lock.lock_scope(lock_impl, flow_task.flow_class, process_pk):
        yield flow_task.activation_class(lock_impl.task)


def _process_path(flow_class) -> str:
    from viewflow.workflow.managers import _get_related_path

    sub = _get_related_path(flow_class.process_class, flow_class.task_class._meta.get_field("process").related_model)
    return f"process__{sub}" if sub else "process"


def _run_one(task_ref: str, process_pk: int, task_pk: int, message_pk: int | None = None) -> str:
    flow_task = import_task_by_ref(task_ref)
    with QJob.activate_for(task_ref, process_pk, task_pk, message_pk) as activation:
        if activation is None:
            return "skipped"
        flow_task._job(activation)
        return "done"


def _run_started(chained: _Chained) -> None:
    """A chained job: its activation is in hand, written STARTED by the job before it."""
    activation, task = chained.activation, chained.activation.task
    if not chained.is_committed and not transaction.get_connection().in_atomic_block:
        # Activated inside a transaction that rolled back afterwards (its held message went with it). (Inside an
        # outer transaction, inline jobs in tests, nothing has committed yet and the activation stands.)
        log.warning("chained flow job vanished", extra={"task_id": task.pk})
        return
    task.status = STATUS.STARTED
    with QJob.activate_for(get_task_ref(activation.flow_task), task.process_id, task.pk, chained.message_pk,
                           started=activation):
        activation.flow_task._job(activation)


def _chain_budget() -> float:
    """How long one delivery may keep running chained jobs: well inside both the worker's timeout (after which
    django-q2 kills it) and the retry lease (after which a held message is handed out again)."""
    if Conf.SYNC:
        return float("inf")
    return min(Conf.TIMEOUT or Conf.RETRY, Conf.RETRY) / 3


def run_job(task_ref: str, process_pk: int, task_pk: int) -> str:
    """The django-q2 entry point for every flow job; then the jobs it activated, while time allows."""
    return run_chained(lambda: _run_one(task_ref, process_pk, task_pk))


def run_chained(first) -> str:
    """Run `first()` (a job, or the flow's start), then the flow jobs it activated, in this worker while time allows;
    what is left goes through the broker."""
    from healthops.audit import acting_as
    from healthops.events import subscriptions_read_once

    started = time.monotonic()
    outer = getattr(_worker, "chain", None)  # inline (sync) jobs may nest: the outermost delivery runs the chain
    chain = _worker.chain = outer if outer is not None else []
    try:
        with acting_as(), subscriptions_read_once():
            outcome = first()
            while chain and outer is None:
                if time.monotonic() - started > _chain_budget():
                    break
                job = chain.pop(0)
                try:
                    _run_started(job)
                except BaseException:
                    chain.insert(0, job)  # unsettled (e.g. the lock was busy): handed back to the broker below
                    raise
        return outcome
    finally:
        if outer is None:
            _worker.chain = None
            for job in chain:  # out of time, or an error: the rest go through the broker (STARTED: a delivery
                try:           # re-enters from there)
                    release(job.message_pk)
                except Exception:  # noqa: BLE001 - its lease runs out anyway; keep the original error
                    log.exception("could not release a held flow job", extra={"message_id": job.message_pk})


class Job(flow_mixins.NodeDetailMixin, flow_mixins.NodeCancelMixin, flow_mixins.NodeUndoMixin,
          flow_mixins.NodeReviveMixin, QJob):
    index_view_class = flow_views.IndexTaskView
    detail_view_class = flow_views.DetailTaskView
    cancel_view_class = flow_views.CancelTaskView
    undo_view_class = flow_views.UndoTaskView
    revive_view_class = flow_views.ReviveTaskView
