from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission


class HasRolePermission(BasePermission):
    """The Django permission the view names for the request's method, held through a role.

    A view sets `required_permissions = {"GET": "leads.view_lead", ...}`. A method the view
    does not serve asks for any one of them, so a user who may use the endpoint learns that
    the method is not allowed (405) and anybody else gets 403.
    """

    message = _("Your role does not allow this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        required: dict[str, str] = view.required_permissions
        method = "GET" if request.method == "HEAD" else request.method
        wanted = [required[method]] if method in required else sorted(set(required.values()))
        return holds_any(user, wanted)


def holds_any(user, permissions: list[str]) -> bool:
    """Whether the user holds one of the permissions, asked in one query.

    ModelBackend.has_perm loads every permission of the user and of their groups (two
    queries) to answer one question; API calls come one per request, so nothing is reused.
    A token-authenticated user arrives with its permissions already read.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    held = getattr(user, "api_permissions", None)
    if held is not None:  # read with the token (api.authentication)
        return not held.isdisjoint(permissions)
    wanted = Q()
    for dotted in permissions:
        app_label, codename = dotted.split(".", 1)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(wanted).filter(Q(group__user=user) | Q(user=user)).exists()
