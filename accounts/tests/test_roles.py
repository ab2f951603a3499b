"""The role groups and their permissions, as the data migration wrote them."""

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission

from accounts.roles import ROLE_PERMISSIONS, ROLE_PRECEDENCE, Role, sync_role_permissions

pytestmark = pytest.mark.django_db


def _dotted_permissions(group: Group) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_migration_created_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) == set(Role.values)


@pytest.mark.parametrize("role", Role.values)
def test_each_role_group_holds_exactly_the_permissions_in_role_permissions(role):
    group = Group.objects.get(name=role)

    assert _dotted_permissions(group) == set(ROLE_PERMISSIONS[role])


def test_every_permission_named_in_role_permissions_exists():
    # `sync_role_permissions` skips unknown permissions (they may belong to a later
    # migration), so a typo would otherwise go unnoticed.
    for role, dotted_names in ROLE_PERMISSIONS.items():
        for dotted in dotted_names:
            app_label, codename = dotted.split(".", 1)
            assert Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).exists(), f"{role}: {dotted} does not exist"


def test_every_role_has_permissions_and_a_place_in_the_precedence():
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert sorted(ROLE_PRECEDENCE) == sorted(Role)


def test_only_admins_can_manage_users():
    holders = [role for role, names in ROLE_PERMISSIONS.items() if "accounts.manage_users" in names]

    assert holders == [Role.ADMIN]


def test_syncing_again_takes_away_a_permission_added_by_hand():
    marketers = Group.objects.get(name=Role.MARKETER)
    marketers.permissions.add(Permission.objects.get(codename="manage_users"))

    sync_role_permissions(global_apps)

    assert _dotted_permissions(marketers) == set(ROLE_PERMISSIONS[Role.MARKETER])


def test_syncing_with_the_real_app_registry_leaves_the_apps_intact():
    models_modules = {
        config.label: config.models_module for config in global_apps.get_app_configs()
    }

    sync_role_permissions(global_apps)

    assert {
        config.label: config.models_module for config in global_apps.get_app_configs()
    } == models_modules


def test_a_user_with_several_roles_is_shown_by_the_highest(sales_rep):
    sales_rep.groups.add(Group.objects.get(name=Role.SALES_MANAGER))

    assert sales_rep.main_role == Role.SALES_MANAGER
    assert sales_rep.roles == [Role.SALES_MANAGER, Role.SALES_REP]


def test_a_user_without_roles_has_no_main_role(no_role_user):
    assert no_role_user.main_role is None
    assert not no_role_user.has_role(Role.MARKETER)


@pytest.mark.parametrize(
    ("persona", "permission", "allowed"),
    [
        ("marketer", "leads.export_leads", True),
        ("marketer", "leads.work_sales_queue", False),
        ("sales_rep", "leads.work_sales_queue", True),
        ("sales_rep", "leads.assign_leads", False),
        ("sales_manager", "leads.assign_leads", True),
        ("sales_manager", "accounts.manage_users", False),
        ("admin_user", "accounts.manage_users", True),
        ("no_role_user", "leads.view_lead", False),
    ],
)
def test_users_get_the_permissions_of_their_roles(request, persona, permission, allowed):
    user = request.getfixturevalue(persona)

    assert user.has_perm(permission) is allowed
