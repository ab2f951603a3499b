"""What every persona gets from a GET of the quota pages (see tests/access.py)."""

from quota.tests.factories import QuotaTargetFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _target() -> dict:
    return {"pk": QuotaTargetFactory().pk}


# Those who plan with the funnel (funnel.view_dashboard or quota.manage_targets) see the
# calculator; while it is not public (the default), anonymous visitors are sent to log in.
_PLANNERS = expect(anonymous=LOGIN, users=OK, sales_rep=FORBIDDEN, no_role_user=FORBIDDEN)
# Saving and switching targets are POSTs for quota.manage_targets: the rest get 403.
_TARGET_WRITES = expect(
    anonymous=LOGIN, users=NOT_ALLOWED, sales_rep=FORBIDDEN, no_role_user=FORBIDDEN
)

ROWS: dict[str, Row] = {
    "funnel:quota": Row(_PLANNERS),
    "quota:targets": Row(_PLANNERS),
    "quota:target-create": Row(_TARGET_WRITES),
    "quota:target-activate": Row(_TARGET_WRITES, kwargs=_target),
    "quota:target-deactivate": Row(_TARGET_WRITES, kwargs=_target),
    "quota:target-delete": Row(_TARGET_WRITES, kwargs=_target),
    # Making the calculator public is the admins' call (quota.publish_calculator).
    "quota:settings": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)),
}
