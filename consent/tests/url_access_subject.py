"""What every persona gets from a GET of the consent panel actions and of the pages data
subjects reach through signed links (see tests/access.py)."""

from consent import links
from consent.confirmation import request_confirmations
from consent.models import Purpose
from consent.services import ConsentGiven
from leads.tests.factories import LeadFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _subject() -> dict:
    return {"subject_id": LeadFactory().pk}


def _confirm_link() -> dict:
    Purpose.objects.filter(key="marketing_email").update(requires_double_opt_in=True)
    (confirmation,) = request_confirmations(
        subject_id=LeadFactory().pk,
        choices=[ConsentGiven("marketing_email", True)],
        method="web_form",
    )
    return {"token": links.confirmation_token(confirmation.pk)}


def _withdrawal_link() -> dict:
    return {"token": links.withdrawal_token(LeadFactory().pk)}


def _preferences_link() -> dict:
    return {"token": links.preferences_token(LeadFactory().pk)}


# Recording a verbal choice and resending are POSTs from the lead page, for every role that
# works leads (consent.record_consent); a user without a role gets 403.
_PANEL_ACTION = expect(anonymous=LOGIN, users=NOT_ALLOWED, no_role_user=FORBIDDEN)
# Signed links: the link is the credential, whoever follows it, logged in or not.
_PUBLIC = expect(anonymous=OK, users=OK)

ROWS: dict[str, Row] = {
    "consent_subject:record": Row(_PANEL_ACTION, kwargs=_subject),
    "consent_subject:resend": Row(_PANEL_ACTION, kwargs=_subject),
    "consent_public:confirm": Row(_PUBLIC, kwargs=_confirm_link),
    # "Send me a new link" acts on POST only.
    "consent_public:resend": Row(
        expect(anonymous=NOT_ALLOWED, users=NOT_ALLOWED), kwargs=_confirm_link
    ),
    "consent_public:withdraw": Row(_PUBLIC, kwargs=_withdrawal_link),
    "consent_public:preferences": Row(_PUBLIC, kwargs=_preferences_link),
}
