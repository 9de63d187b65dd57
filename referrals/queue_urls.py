"""The work queues under /queues/ (healthops.urls includes them)."""

from django.urls import path

from . import queue_views

app_name = "queues"
urlpatterns = [
    path("", queue_views.queue, name="index"),
    path("next/", queue_views.take_next, name="next"),
    path("tasks/<int:pk>/", queue_views.task_detail, name="task"),
    path("tasks/<int:pk>/<slug:action>/", queue_views.task_act, name="act"),
]
