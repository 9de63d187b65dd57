"""The rate limit as GCRA: one timestamp per client (the old last-update time is a valid, past, arrival time)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("partners", "0002_api_calls"),
    ]

    operations = [
        migrations.RenameField(model_name="ratelimitbucket", old_name="updated_at", new_name="tat"),
        migrations.AlterField(
            model_name="ratelimitbucket",
            name="tat",
            field=models.DateTimeField(
                help_text="Requests are allowed while this is at most burst - 1 intervals ahead of now.",
                verbose_name="theoretical arrival time"),
        ),
        migrations.RemoveField(model_name="ratelimitbucket", name="tokens"),
    ]
