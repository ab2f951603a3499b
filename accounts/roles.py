"""The four roles of Leadladder and the permissions each one holds.

A role is a Django group of the same name. Which permissions a group holds is decided here,
in code, and written to the database by data migrations calling `sync_role_permissions`:
a later app that adds permissions adds a migration that calls it again.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MARKETER = "marketer", _("Marketer")
    SALES_REP = "sales_rep", _("Sales rep")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    ADMIN = "admin", _("Admin")


# The order in which a user with several roles is shown by their "main" role.
ROLE_PRECEDENCE = [Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETER]

# Everyone who works leads may read the qualification criteria: why a lead qualifies is
# nobody's secret.
_LEAD_READ = ["leads.view_lead", "leads.view_event", "scoring.view_criteriaversion"]
# Recording a consent or withdrawal the person gave verbally is part of working a lead.
_LEAD_WORK = [*_LEAD_READ, "leads.change_lead", "leads.add_event", "consent.record_consent"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.MARKETER: [
        *_LEAD_WORK,
        "leads.add_lead",
        "leads.export_leads",
        "leads.merge_leads",
        "webforms.view_webform",
        "funnel.view_dashboard",
        "quota.manage_targets",
    ],
    Role.SALES_REP: [*_LEAD_WORK, "leads.add_lead", "leads.work_sales_queue"],
    Role.SALES_MANAGER: [
        *_LEAD_WORK,
        "leads.add_lead",
        "leads.work_sales_queue",
        "leads.assign_leads",
        "leads.export_leads",
        "sales.view_sla_breaches",
        "sales.manage_assignment",
        "funnel.view_dashboard",
        "quota.manage_targets",
    ],
    Role.ADMIN: [
        *_LEAD_WORK,
        "leads.add_lead",
        "leads.export_leads",
        "leads.merge_leads",
        "leads.assign_leads",
        "accounts.manage_users",
        "webforms.view_webform",
        "webforms.manage_webforms",
        "scoring.manage_criteria",
        "consent.manage_purposes",
        "privacy.export_subject",
        "privacy.erase_subject",
        "retention.manage_retention",
        "leads.work_sales_queue",
        "sales.view_sla_breaches",
        "sales.manage_assignment",
        "funnel.view_dashboard",
        "quota.manage_targets",
        "quota.publish_calculator",
    ],
}


def sync_role_permissions(apps) -> None:
    """Create the role groups and give each exactly the permissions listed above.

    Takes the migration's `apps` so it runs against the historical models. Permissions are
    normally created after all migrations; we create them first so this can run in one.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # `create_permissions` skips app configs without a models module, which is every
        # config of a migration's historical `apps`. Restore the old value afterwards: called
        # with the real app registry, leaving None would make apps look model-less.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=role)
        wanted = []
        for dotted in codenames:
            app_label, codename = dotted.split(".", 1)
            permission = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            # A permission of an app that is not migrated yet is added by its own migration.
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)
