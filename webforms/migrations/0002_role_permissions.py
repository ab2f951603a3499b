from django.db import migrations


def give_roles_web_form_permissions(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_language"),
        ("webforms", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(give_roles_web_form_permissions, migrations.RunPython.noop)
    ]
