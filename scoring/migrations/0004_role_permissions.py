from django.db import migrations


def give_roles_criteria_permissions(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_language"),
        ("webforms", "0002_role_permissions"),
        ("scoring", "0003_criteria_permissions"),
    ]

    operations = [
        migrations.RunPython(give_roles_criteria_permissions, migrations.RunPython.noop)
    ]
