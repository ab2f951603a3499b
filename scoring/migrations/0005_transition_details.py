from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("scoring", "0004_role_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="stagetransition",
            name="details",
            field=models.JSONField(blank=True, default=dict, verbose_name="details"),
        ),
    ]
