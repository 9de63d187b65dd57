"""The network version row and the triggers that change its token (scheduling.models.NetworkVersion)."""

from django.db import migrations, models

WATCHED = ["healthops_site", "staffing_staffmember", "staffing_staffmember_sites", "staffing_staffmember_specialties",
           "staffing_credential", "scheduling_room", "scheduling_equipment", "scheduling_servicetype_equipment_kinds"]

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION scheduling_network_changed() RETURNS trigger AS $$
BEGIN
    UPDATE scheduling_networkversion SET token = gen_random_uuid()::text WHERE id = 1;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    run = schema_editor.execute
    apps.get_model("scheduling", "NetworkVersion").objects.create(pk=1, token="initial")
    if vendor == "postgresql":
        run(POSTGRES_FUNCTION)
        for table in WATCHED:
            run(f"CREATE TRIGGER {table}_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION scheduling_network_changed()")
    elif vendor == "sqlite":
        for table in WATCHED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                run(f"CREATE TRIGGER {table}_network_{event.lower()} AFTER {event} ON {table} BEGIN "
                    "UPDATE scheduling_networkversion SET token = lower(hex(randomblob(16))) WHERE id = 1; END")
    # Other databases: no triggers, and site_plans does not cache (it reads no token row it can trust).


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in WATCHED:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_network_changed ON {table}")
        elif vendor == "sqlite":
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_network_{event}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS scheduling_network_changed()")


class Migration(migrations.Migration):

    dependencies = [
        ("healthops", "0003_integrations_outbox"),
        ("staffing", "0003_window_indexes"),
        ("scheduling", "0004_window_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="NetworkVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=40)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
