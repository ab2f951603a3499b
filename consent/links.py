"""Signed links in messages to data subjects: confirm a grant, withdraw, change preferences.

Each kind of link is signed with its own salt, so a token of one kind never passes for
another. A link carries ids only, never an address: links end up in logs and forwarded
mail. Confirm links carry a confirmation id and expire with the confirmation (the database
knows when), so an expired link can still be read to offer a new one; withdrawal and
preference links carry the subject id and work for settings.CONSENT_LINK_DAYS.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

CONFIRM_SALT = "consent.links.confirm"
WITHDRAW_SALT = "consent.links.withdraw"
PREFERENCES_SALT = "consent.links.preferences"
# The withdrawal link's payload names this instead of a purpose key: every marketing purpose.
ALL_MARKETING = "marketing"


class BadLink(ValueError):
    """Tampered with, cut short, or of another kind: nothing can be read from it."""


class ExpiredLink(ValueError):
    """Signed by us, but older than links of its kind may be."""


@dataclass(frozen=True)
class WithdrawalLink:
    subject_id: int
    # None: every marketing purpose.
    purpose_key: str | None


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _link_max_age() -> timedelta:
    return timedelta(days=settings.CONSENT_LINK_DAYS)


def _load(token: str, *, salt: str, max_age: timedelta | None = None):
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise ExpiredLink(str(error)) from error
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadLink(str(error)) from error


# --- Confirm a grant (double opt-in) ---------------------------------------------------------


def confirmation_token(confirmation_id: int) -> str:
    return signing.dumps({"c": confirmation_id}, salt=CONFIRM_SALT)


def read_confirmation_token(token: str) -> int:
    """The confirmation id; raises BadLink. Expiry is the confirmation's own (expires_at)."""
    payload = _load(token, salt=CONFIRM_SALT)
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int):
        raise BadLink("no confirmation in the link")
    return payload["c"]


def confirmation_url(confirmation) -> str:
    """The absolute link that confirms this ConsentConfirmation."""
    token = confirmation_token(confirmation.pk)
    return _absolute(reverse("consent_public:confirm", kwargs={"token": token}))


# --- Withdraw one purpose, or every marketing purpose ----------------------------------------


def withdrawal_token(subject_id: int, purpose_key: str | None = None) -> str:
    return signing.dumps({"s": subject_id, "p": purpose_key or ALL_MARKETING}, salt=WITHDRAW_SALT)


def read_withdrawal_token(token: str) -> WithdrawalLink:
    """Raises BadLink. A withdrawal link never expires: withdrawing must stay as easy as
    giving (GDPR art. 7(3)), also from a mail of years ago, and it can only take consent away."""
    payload = _load(token, salt=WITHDRAW_SALT)
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("s"), int)
        or not isinstance(payload.get("p"), str)
    ):
        raise BadLink("no subject in the link")
    purpose_key = None if payload["p"] == ALL_MARKETING else payload["p"]
    return WithdrawalLink(subject_id=payload["s"], purpose_key=purpose_key)


def withdrawal_url(subject_id: int, purpose_key: str | None = None) -> str:
    """The absolute one-click withdrawal link for one purpose, or (None) for every marketing
    purpose: what every marketing message carries."""
    token = withdrawal_token(subject_id, purpose_key)
    return _absolute(reverse("consent_public:withdraw", kwargs={"token": token}))


# --- The preference page ---------------------------------------------------------------------


def preferences_token(subject_id: int) -> str:
    return signing.dumps({"s": subject_id}, salt=PREFERENCES_SALT)


def read_preferences_token(token: str) -> int:
    """The subject id; raises BadLink or ExpiredLink (older than CONSENT_LINK_DAYS)."""
    payload = _load(token, salt=PREFERENCES_SALT, max_age=_link_max_age())
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise BadLink("no subject in the link")
    return payload["s"]


def preferences_url(subject_id: int) -> str:
    """The absolute link to the subject's preference page."""
    token = preferences_token(subject_id)
    return _absolute(reverse("consent_public:preferences", kwargs={"token": token}))
