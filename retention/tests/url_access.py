"""What every persona gets from a GET of the retention pages (see tests/access.py)."""

from retention.models import AppliesTo, RetentionPolicy
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _policy() -> dict:
    policy = RetentionPolicy.objects.create(
        name="Old contacts", applies_to=AppliesTo.CONTACTS, months=6
    )
    return {"pk": policy.pk}


# Admins (retention.manage_retention) see and change the policies and erase; the rest 403.
_ADMINS = expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)

ROWS: dict[str, Row] = {
    "retention:policies": Row(_ADMINS),
    "retention:policy-create": Row(_ADMINS),
    "retention:policy-edit": Row(_ADMINS, kwargs=_policy),
    "retention:dry-run": Row(_ADMINS),
    "retention:dry-run-csv": Row(_ADMINS),
    # Erasing is a POST; a GET gets 405 once the permission check has passed.
    "retention:apply": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=NOT_ALLOWED)),
}
