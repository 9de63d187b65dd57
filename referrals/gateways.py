"""The ReferralFlow's gateways: viewflow's Switch and If, evaluated without a savepoint of their own.

viewflow runs each gateway's conditions inside a savepoint so that a condition failing on the database leaves the
transaction usable for recording the gateway's error. Our conditions read the process's facts (and, for the
documents, one query). A Python error in one is still recorded on the gateway's task by viewflow's exception guard
where viewflow keeps errors (the steps after a job: the gateway parks in ERROR, and find_orphans lists it); a
database error now fails the whole step that routed (the settling job's transaction rolls back and its delivery
fails, as for any other error while settling; a person's action is refused) instead of leaving a gateway in ERROR
with nobody's task open. Two statements fewer per gateway, four gateways per straight-through referral.

A gateway's task is written once, when it has routed (DONE, or ERROR), where viewflow inserts it NEW and updates it
when it completes (`referrals.taskwrite`).
"""

from django.utils.timezone import now
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.if_gate import IfActivation
from viewflow.workflow.nodes.switch import SwitchActivation
from viewflow.workflow.signals import task_finished

from .taskwrite import WrittenOnce


class _Gateway(WrittenOnce):
    """A gateway's task, written when it has routed (DONE) or failed (ERROR, kept by viewflow's guard)."""

    def _guarded(self, route) -> None:
        try:
            with self.exception_guard():
                route()
        finally:
            self._link()  # an error the guard kept (ERROR) saved the task: it is linked all the same

    @Activation.status.super()
    def complete(self):  # viewflow's, and the link once the task exists
        self.task.finished = now()
        self.task.save()
        self._link()
        task_finished.send(sender=self.flow_class, process=self.process, task=self.task)


class _SwitchActivation(_Gateway, SwitchActivation):
    @Activation.status.super()
    def activate(self):
        self._guarded(self._route)

    def _route(self):
        for node, cond in self.flow_task._branches:  # as viewflow's, less the savepoint
            if cond:
                if cond(self):
                    self.next_task = node
                    break
            else:
                self.next_task = node
        if not self.next_task:
            raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class _IfActivation(_Gateway, IfActivation):
    @Activation.status.super()
    def activate(self):
        self._guarded(self._decide)

    def _decide(self):
        self._condition_result = self.flow_task._condition(self)


class Switch(flow.Switch):
    activation_class = _SwitchActivation


class If(flow.If):
    activation_class = _IfActivation
