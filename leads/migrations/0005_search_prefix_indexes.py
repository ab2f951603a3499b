from django.db import migrations

# Prefix search ("starts with") over a million leads. With the C.UTF-8 collation PostgreSQL
# uses an index for LIKE 'x%' only with a pattern_ops operator class, and istartswith
# compares UPPER(column). Expression indexes with operator classes are PostgreSQL's own, so
# the embedded SQLite database goes without them.
INDEXES = {
    "lead_email_prefix": "CREATE INDEX lead_email_prefix ON leads_lead "
    "(email varchar_pattern_ops) WHERE merged_into_id IS NULL",
    "lead_first_name_prefix": "CREATE INDEX lead_first_name_prefix ON leads_lead "
    "(UPPER(first_name::text) text_pattern_ops)",
    "lead_last_name_prefix": "CREATE INDEX lead_last_name_prefix ON leads_lead "
    "(UPPER(last_name::text) text_pattern_ops)",
    "lead_company_prefix": "CREATE INDEX lead_company_prefix ON leads_lead "
    "(UPPER(company::text) text_pattern_ops)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in INDEXES.values():
            schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0004_merged_email_index")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
