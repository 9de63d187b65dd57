"""A viewflow job node that runs on django-q2 (viewflow's own Celery node is in its paid edition only).

The flow reaches the node: the task moves NEW -> SCHEDULED and a django-q2 task is enqueued after commit. The worker
moves it to STARTED under the process lock, runs the body *without* the lock (it may call payers), then completes
it (DONE, next nodes) or records the error (ERROR, `.OnError` boundary) under the lock again. django-q2 delivers at
least once; a redelivered job re-enters from STARTED, and job bodies are idempotent.
"""

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task
from viewflow import this
from viewflow.workflow.activation import Activation, has_manage_permission
from viewflow.workflow.fields import get_task_ref, import_task_by_ref
from viewflow.workflow.flow import mixins as flow_mixins
from viewflow.workflow.flow import views as flow_views
from viewflow.workflow.nodes import AbstractJob, AbstractJobActivation
from viewflow.workflow.status import STATUS


class QJobActivation(AbstractJobActivation):
    @Activation.status.transition(source=STATUS.NEW, target=STATUS.SCHEDULED)
    def activate(self):
        args = (get_task_ref(self.flow_task), self.process.pk, self.task.pk)
        self.task.save()  # the status machine only changed it in memory: the worker must see SCHEDULED
        transaction.on_commit(lambda: enqueue(*args))

    @Activation.status.transition(source=[STATUS.NEW, STATUS.SCHEDULED, STATUS.ERROR], target=STATUS.CANCELED,
                                  permission=has_manage_permission)
    def cancel(self):
        # The ORM broker cannot revoke; run_job skips a task that is no longer scheduled.
        self.task.finished = timezone.now()
        self.task.save()


def enqueue(task_ref: str, process_pk: int, task_pk: int) -> None:
    async_task("referrals.qjob.run_job", task_ref, process_pk, task_pk,
               q_options={"task_name": f"flow-job-{task_pk}", "group": "referral-flow"})


class QJob(AbstractJob):
    activation_class = QJobActivation

    def __init__(self, job, **kwargs):
        super().__init__(**kwargs)
        self._job = job

    def _resolve(self, instance):
        super()._resolve(instance)
        self._job = this.resolve(instance, self._job)

    @classmethod
    @contextmanager
    def activate_for(cls, task_ref: str, process_pk: int, task_pk: int):
        flow_task = import_task_by_ref(task_ref)
        flow_class = flow_task.flow_class
        task_model = flow_class.task_class
        with flow_class.lock(process_pk):
            activation = flow_task.activation_class(task_model._default_manager.get(pk=task_pk, process_id=process_pk))
            if not activation.start.can_proceed():  # cancelled, or done by an earlier delivery
                yield None
                return
            activation.start()
        try:
            yield activation
        except Exception as exc:
            with flow_class.lock(process_pk):
                flow_task.activation_class(task_model._default_manager.get(pk=task_pk)).error(exc)
            raise
        else:
            with flow_class.lock(process_pk):
                done = flow_task.activation_class(task_model._default_manager.get(pk=task_pk))
                if done.task.status == STATUS.STARTED:
                    done.execute()


def run_job(task_ref: str, process_pk: int, task_pk: int) -> str:
    """The django-q2 entry point for every flow job."""
    from healthops.audit import acting_as

    flow_task = import_task_by_ref(task_ref)
    with acting_as(), QJob.activate_for(task_ref, process_pk, task_pk) as activation:
        if activation is None:
            return "skipped"
        flow_task._job(activation)
        return "done"


class Job(flow_mixins.NodeDetailMixin, flow_mixins.NodeCancelMixin, flow_mixins.NodeUndoMixin,
          flow_mixins.NodeReviveMixin, QJob):
    index_view_class = flow_views.IndexTaskView
    detail_view_class = flow_views.DetailTaskView
    cancel_view_class = flow_views.CancelTaskView
    undo_view_class = flow_views.UndoTaskView
    revive_view_class = flow_views.ReviveTaskView
