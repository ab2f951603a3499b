"""The database itself refuses to change or delete a consent record (PostgreSQL).

ConsentRecord.save() already refuses in code; this also stops a queryset update, raw SQL or
a careless admin. The few legitimate rewrites (a merge giving a history to the surviving
lead, erasure under a legal duty) open the guard for their transaction only, through
consent.services.rewriting_consent_records.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION consent_record_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('leadladder.rewriting_consent', true), '') <> 'on' THEN
        RAISE EXCEPTION 'consent records are append-only (% refused)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_record_append_only
    BEFORE UPDATE OR DELETE ON consent_consentrecord
    FOR EACH ROW EXECUTE FUNCTION consent_record_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS consent_record_append_only ON consent_consentrecord;
DROP FUNCTION IF EXISTS consent_record_append_only();
"""


def create_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_default_purposes")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
