"""The ReferralFlow's gateways: viewflow's Switch and If, evaluated without a savepoint of their own.

viewflow runs each gateway's conditions inside a savepoint so that a condition failing on the database leaves the
transaction usable for recording the gateway's error. Our conditions read the process's facts (and, for the
documents, one query). A Python error in one is still recorded on the gateway's task by viewflow's exception guard;
a database error now fails the whole step that routed (the settling job's transaction rolls back and its delivery
fails, as for any other error while settling; a person's action is refused) instead of leaving a gateway in ERROR
with nobody's task open. Two statements fewer per gateway, four gateways per straight-through referral.
"""

from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.if_gate import IfActivation
from viewflow.workflow.nodes.switch import SwitchActivation


class _SwitchActivation(SwitchActivation):
    @Activation.status.super()
    def activate(self):
        with self.exception_guard():
            for node, cond in self.flow_task._branches:  # as viewflow's, less the savepoint
                if cond:
                    if cond(self):
                        self.next_task = node
                        break
                else:
                    self.next_task = node
            if not self.next_task:
                raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class _IfActivation(IfActivation):
    @Activation.status.super()
    def activate(self):
        with self.exception_guard():
            self._condition_result = self.flow_task._condition(self)


class Switch(flow.Switch):
    activation_class = _SwitchActivation


class If(flow.If):
    activation_class = _IfActivation
