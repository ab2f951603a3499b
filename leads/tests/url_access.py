"""What every persona gets from a GET of the leads pages and of the qualification API's lead
endpoints (see tests/access.py)."""

from leads.tests.factories import LeadFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect

# API endpoints answer 401 in JSON, never a redirect to the login page.
UNAUTHORIZED = 401


def _a_lead() -> dict:
    return {"pk": LeadFactory().pk}


ROWS: dict[str, Row] = {
    # Every role works with leads; a user without a role sees none of them.
    "leads:list": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN)),
    "leads:detail": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN), kwargs=_a_lead),
    "leads:edit": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN), kwargs=_a_lead),
    # Every role enters leads by hand (leads.add_lead).
    "leads:create": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN)),
    # Merging is for marketers and admins (leads.merge_leads).
    "leads:merge": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, marketer=OK, admin_user=OK), kwargs=_a_lead
    ),
    # Bulk actions are POST only: who may use them gets 405 from a GET, the others 403.
    "leads:assign": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, sales_manager=NOT_ALLOWED, admin_user=NOT_ALLOWED)
    ),
    "leads:export": Row(
        expect(
            anonymous=LOGIN,
            users=FORBIDDEN,
            marketer=NOT_ALLOWED,
            sales_manager=NOT_ALLOWED,
            admin_user=NOT_ALLOWED,
        )
    ),
    # A lead's score explained: every role reads leads (leads.view_lead).
    "api:lead-score": Row(
        expect(anonymous=UNAUTHORIZED, users=OK, no_role_user=FORBIDDEN), kwargs=_a_lead
    ),
    # Moving a lead is a POST: every role that changes leads gets 405 from a GET.
    "api:lead-transition": Row(
        expect(anonymous=UNAUTHORIZED, users=NOT_ALLOWED, no_role_user=FORBIDDEN), kwargs=_a_lead
    ),
}
