"""The ReferralFlow's jobs route their own failures (qjob `.OnFailure`) instead of arming viewflow `.OnError` boundary
tasks. Boundary tasks still armed for a job in flight are closed here, so none lingers as an open task of a node the
flow no longer has (viewflow shows past tasks of removed nodes as obsolete)."""

from django.db import migrations
from django.utils import timezone

ARMED = [f"referrals/flows.ReferralFlow.{job}__error" for job in ("eligibility", "authorize", "match", "notify")]


def close_armed_error_boundaries(apps, schema_editor):
    Task = apps.get_model("viewflow", "Task")
    Task.objects.filter(flow_task__in=ARMED, status="NEW").update(status="CANCELED", finished=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ("referrals", "0003_auth_override"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [migrations.RunPython(close_armed_error_boundaries, migrations.RunPython.noop)]
