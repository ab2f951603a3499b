from rest_framework.views import APIView

from api.parsers import BoundedJSONParser
from api.permissions import HasRolePermission


class ApiView(APIView):
    """The base of Leadladder's API views: JSON in and out, permissions by role.

    Authentication is DRF's default: a token (`Authorization: Token ...`) or the browser's
    session. Without either a request gets 401; a role without the permission gets 403.
    """

    parser_classes = [BoundedJSONParser]
    permission_classes = [HasRolePermission]
    # Method -> the Django permission it needs, such as {"GET": "leads.view_lead"}.
    required_permissions: dict[str, str] = {}
