"""What every persona gets from a GET of the qualification pages (see tests/access.py)."""

from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, Row, expect

ROWS: dict[str, Row] = {
    # Adding to nurture is a POST from the lead list: every role that works leads
    # (leads.change_lead) gets 405 from a GET, a user without a role 403.
    "scoring:nurture": Row(expect(anonymous=LOGIN, users=NOT_ALLOWED, no_role_user=FORBIDDEN)),
}
