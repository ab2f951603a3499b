"""What every persona gets from a GET of the consent admin pages and the consent API."""

from consent.models import NoticeVersion, Purpose
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect

UNAUTHORIZED = 401


def _purpose() -> dict:
    purpose = Purpose.objects.create(key="matrix", name_en="Matrix", name_nl="Matrix")
    NoticeVersion.objects.create(purpose=purpose, version=1, text_en="We", text_nl="Wij")
    return {"pk": purpose.pk}


# Purposes, notices and the records of processing are admins' work (consent.manage_purposes).
_ADMINS = expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)

ROWS: dict[str, Row] = {
    "consent:purposes": Row(_ADMINS),
    "consent:purpose-create": Row(_ADMINS),
    "consent:purpose-edit": Row(_ADMINS, kwargs=_purpose),
    "consent:purpose-notices": Row(_ADMINS, kwargs=_purpose),
    "consent:processing": Row(_ADMINS),
    "consent:processing-export": Row(_ADMINS),
    # POST only: every role that works leads holds consent.record_consent and learns from a
    # GET that the method is wrong; a user without a role gets 403.
    "api:consents": Row(expect(anonymous=UNAUTHORIZED, users=NOT_ALLOWED, no_role_user=FORBIDDEN)),
}
