"""What every persona gets from a GET of the import pages (see tests/access.py)."""

from imports.tests.factories import ImportJobFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect

NOT_FOUND = 404


def _someone_elses_import() -> dict:
    return {"pk": ImportJobFactory().pk}


ROWS: dict[str, Row] = {
    # Importing is adding leads: every role may, a user without a role may not.
    "imports:upload": Row(expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN)),
    # Someone else's import and its rejected rows: roles that may export every lead see it;
    # a sales rep sees only their own imports...
    "imports:detail": Row(
        expect(anonymous=LOGIN, users=OK, sales_rep=NOT_FOUND, no_role_user=FORBIDDEN),
        kwargs=_someone_elses_import,
    ),
    "imports:errors": Row(
        expect(anonymous=LOGIN, users=OK, sales_rep=NOT_FOUND, no_role_user=FORBIDDEN),
        kwargs=_someone_elses_import,
    ),
    # ...but only its uploader chooses its columns and starts it.
    "imports:mapping": Row(expect(anonymous=LOGIN, users=FORBIDDEN), kwargs=_someone_elses_import),
    # POST only: who may add leads gets 405 from a GET, the others 403.
    "imports:start": Row(
        expect(anonymous=LOGIN, users=NOT_ALLOWED, no_role_user=FORBIDDEN),
        kwargs=_someone_elses_import,
    ),
}
