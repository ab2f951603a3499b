"""The two policies the product starts with (issue 5): contacts that never became leads are
kept 6 months after their last activity, leads without activity and without any active
consent 24 months. Admins change or switch them off on the retention page."""

from django.db import migrations

POLICIES = [
    {
        "name": "Contacts that never became leads",
        "description": "Someone left their details (a lottery entry, a download) but never "
        "met the lead definition. Kept 6 months after their last activity.",
        "applies_to": "contacts",
        "months": 6,
    },
    {
        "name": "Inactive leads without consent",
        "description": "No activity for 24 months and no active consent for any purpose: "
        "nothing left to keep them for.",
        "applies_to": "inactive_without_consent",
        "months": 24,
    },
]


def create_default_policies(apps, schema_editor):
    policy_model = apps.get_model("retention", "RetentionPolicy")
    for data in POLICIES:
        policy_model.objects.get_or_create(applies_to=data["applies_to"], defaults=data)


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial")]

    operations = [migrations.RunPython(create_default_policies, migrations.RunPython.noop)]
