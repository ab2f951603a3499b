"""What every persona gets from a GET of the data-subject pages and API (see tests/access.py).

Exporting and erasing a person are for admins (privacy.export_subject, privacy.erase_subject).
"""

from leads.tests.factories import LeadFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect

UNAUTHORIZED = 401


def _a_lead() -> dict:
    return {"pk": LeadFactory().pk}


ROWS: dict[str, Row] = {
    "privacy:requests": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)),
    # The export is a POST (a download that is logged): admins get 405 from a GET.
    "privacy:export": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=NOT_ALLOWED), kwargs=_a_lead
    ),
    # The confirmation page.
    "privacy:erase": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK), kwargs=_a_lead),
    # POST only: the admin gets 405 from a GET, everyone else 403, JSON 401 without login.
    "api:subject-export": Row(
        expect(anonymous=UNAUTHORIZED, users=FORBIDDEN, admin_user=NOT_ALLOWED)
    ),
    "api:subject-erase": Row(
        expect(anonymous=UNAUTHORIZED, users=FORBIDDEN, admin_user=NOT_ALLOWED)
    ),
}
