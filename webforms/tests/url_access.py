"""Who gets what from the web form pages (collected by tests/test_permission_matrix.py)."""

from tests.access import FORBIDDEN, LOGIN, OK, Row, expect
from webforms.tests.factories import WebFormFactory


def _web_form() -> dict:
    return {"pk": WebFormFactory().pk}


def _public_form() -> dict:
    return {"slug": WebFormFactory().slug}


# Marketers see the forms and copy their embed code; only admins create and change them.
_VIEWERS = expect(anonymous=LOGIN, users=FORBIDDEN, marketer=OK, admin_user=OK)
_MANAGERS = expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)

ROWS: dict[str, Row] = {
    "webforms:list": Row(_VIEWERS),
    "webforms:detail": Row(_VIEWERS, kwargs=_web_form),
    "webforms:preview": Row(_VIEWERS, kwargs=_web_form),
    "webforms:create": Row(_MANAGERS),
    "webforms:edit": Row(_MANAGERS, kwargs=_web_form),
    # Public: visitors fill in forms without an account.
    "webforms:public": Row(expect(anonymous=OK, users=OK), kwargs=_public_form),
    "webforms:thanks": Row(expect(anonymous=OK, users=OK), kwargs=_public_form),
}
