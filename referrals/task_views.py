"""The view viewflow's View nodes point at. HealthOps works tasks on its own task page (/queues/tasks/<id>/), so a
visit to viewflow's task URL lands there."""

from django.shortcuts import redirect
from django.views import View


class TaskView(View):
    def dispatch(self, request, *args, **kwargs):
        return redirect("queues:task", pk=kwargs.get("task_pk") or kwargs.get("pk"))
