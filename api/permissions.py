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
        if method in required:
            return user.has_perm(required[method])
        return any(user.has_perm(permission) for permission in set(required.values()))
