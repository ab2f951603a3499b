from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('leadladder_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_notify_on_insert
    AFTER INSERT ON outbox_outboxmessage
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS outbox_notify_on_insert ON outbox_outboxmessage;
DROP FUNCTION IF EXISTS outbox_notify();
"""


def create_trigger(apps, schema_editor):
    # NOTIFY is delivered at commit, so the relay wakes exactly when a task may be sent.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("outbox", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
