"""What every persona gets from a GET of the qualification pages (see tests/access.py)."""

from scoring.models import RescoreRun, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _draft() -> dict:
    return {"pk": CriteriaVersionFactory(status=VersionStatus.DRAFT).pk}


def _run() -> dict:
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    return {"pk": RescoreRun.objects.create(version=version, total=10, done=4).pk}


# Admins (scoring.manage_criteria) edit, preview and publish; the rest get 403.
_ADMINS = expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)

ROWS: dict[str, Row] = {
    # Adding to nurture is a POST from the lead list: every role that works leads
    # (leads.change_lead) gets 405 from a GET, a user without a role 403.
    "scoring:nurture": Row(expect(anonymous=LOGIN, users=NOT_ALLOWED, no_role_user=FORBIDDEN)),
    # Why a lead qualifies is nobody's secret: every role reads the criteria.
    "scoring:criteria": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN)),
    # Without a draft the page offers to start one; with one, it sends the admin there.
    "scoring:draft": Row(_ADMINS),
    "scoring:edit": Row(_ADMINS, kwargs=_draft),
    "scoring:preview": Row(_ADMINS, kwargs=_draft),
    "scoring:publish": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=NOT_ALLOWED), kwargs=_draft
    ),
    "scoring:run": Row(_ADMINS, kwargs=_run),
}
