"""What every persona gets from a GET of the API's URLs (see tests/test_permission_matrix.py).

API endpoints answer 401 and 403 in JSON, never a redirect to the login page. All four roles
hold the leads permissions; a user without a role holds none.
"""

from leads.tests.factories import LeadFactory
from tests.access import FORBIDDEN, NOT_ALLOWED, OK, Row, expect

UNAUTHORIZED = 401


def _a_lead() -> dict:
    return {"pk": LeadFactory().pk}


ROWS: dict[str, Row] = {
    "api:lead-list": Row(expect(anonymous=UNAUTHORIZED, users=OK, no_role_user=FORBIDDEN)),
    "api:lead-detail": Row(
        expect(anonymous=UNAUTHORIZED, users=OK, no_role_user=FORBIDDEN), kwargs=_a_lead
    ),
    # POST only: a GET tells whoever may record events that the method is wrong.
    "api:events": Row(expect(anonymous=UNAUTHORIZED, users=NOT_ALLOWED, no_role_user=FORBIDDEN)),
}
