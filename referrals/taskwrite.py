"""Flow tasks written once: viewflow inserts every task NEW when it is reached and updates it when it moves on. A
gateway routes, and a job is scheduled or started, in the transaction that reached it, and nothing reads its task in
between, so these write it once, with its first real status, and link it to the task before it right after."""

from viewflow.workflow.activation import Activation


class WrittenOnce(Activation):
    """An activation whose task row is inserted by its first save; `_link()` after that save adds its `previous`."""

    _previous = None

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        task = flow_task.flow_class.task_class(process=prev_activation.process, flow_task=flow_task, token=token,
                                               **cls._new_task_fields())
        task.data = data if data is not None else {}
        task.seed = seed
        activation = cls(task)
        activation._previous = prev_activation.task
        return activation

    @classmethod
    def _new_task_fields(cls) -> dict:
        return {}

    # viewflow keeps activations in sets, hashed by their task, and this one's has no primary key until it is saved.
    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def _link(self) -> None:
        if self._previous is not None and self.task.pk is not None:
            self.task.previous.add(self._previous)
            self._previous = None
