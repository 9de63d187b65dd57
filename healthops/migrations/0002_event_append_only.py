"""The event log is append-only: on PostgreSQL the database itself refuses UPDATE and DELETE on it."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION healthops_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'healthops_event is append-only: %% refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER healthops_event_no_update BEFORE UPDATE ON healthops_event
    FOR EACH ROW EXECUTE FUNCTION healthops_event_append_only();
CREATE TRIGGER healthops_event_no_delete BEFORE DELETE ON healthops_event
    FOR EACH ROW EXECUTE FUNCTION healthops_event_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS healthops_event_no_update ON healthops_event;
DROP TRIGGER IF EXISTS healthops_event_no_delete ON healthops_event;
DROP FUNCTION IF EXISTS healthops_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("healthops", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
