"""Double opt-in: a grant for a purpose that requires it waits for the person to confirm it
by following a signed link sent to their address.

Until confirmed the purpose is pending, not granted. A ConsentConfirmation holds the request;
confirming it writes the append-only ConsentRecord (method double opt-in, evidence
"confirmation:<id>", the notice shown with the original request).
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from consent import links
from consent.models import (
    ClosedReason,
    ConsentConfirmation,
    ConsentMethod,
    ConsentRecord,
    NoticeVersion,
    Purpose,
)
from consent.services import ConsentGiven, UnknownPurpose, current_notices, unknown_purposes
from consent.signals import consents_recorded
from consent.subjects import live_subject_id, subject_email
from outbox.services import request_task

logger = logging.getLogger(__name__)

SEND_TASK = "consent.tasks.send_confirmation_email_task"
# Grants through these channels do not prove the address is the person's own: a purpose that
# requires double opt-in waits for confirmation. The rest record at once: a user heard it
# (verbal, manual), the signed link proves the address (preference page, double opt-in).
CONFIRMED_BY_MAIL = frozenset({ConsentMethod.WEB_FORM, ConsentMethod.API, ConsentMethod.IMPORT})
# At most this many confirmation links per person and purpose a day, resends included: a
# "send me a new link" button must not become a way to flood someone's inbox.
LINKS_PER_DAY = 3


def needs_confirmation(method: ConsentMethod | str) -> bool:
    return str(method) in CONFIRMED_BY_MAIL


def double_opt_in_keys(keys: Iterable[str]) -> set[str]:
    """The purposes among `keys` that require double opt-in."""
    keys = set(keys)
    if not keys:
        return set()
    return set(
        Purpose.objects.filter(key__in=keys, requires_double_opt_in=True).values_list(
            "key", flat=True
        )
    )


@transaction.atomic
def request_confirmations(
    *,
    subject_id: int,
    choices: Sequence[ConsentGiven],
    method: ConsentMethod | str,
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    evidence: str = "",
    recorded_by=None,
) -> list[ConsentConfirmation]:
    """Ask the person to confirm each grant among `choices` whose purpose requires double
    opt-in, and have the e-mail sent once the caller's transaction commits. An older open
    request for the same purpose is superseded. Withdrawals and grants of other purposes are
    ignored; a grant of an unknown or switched-off purpose raises UnknownPurpose."""
    grants = [choice for choice in choices if choice.granted]
    unknown = unknown_purposes(grants)
    if unknown:
        raise UnknownPurpose(unknown)
    keys = double_opt_in_keys(choice.purpose_key for choice in grants)
    grants = [choice for choice in grants if choice.purpose_key in keys]
    if not grants:
        return []
    newest = current_notices(keys)
    shown = {
        notice.pk: notice
        for notice in NoticeVersion.objects.filter(
            pk__in=[choice.notice_id for choice in grants if choice.notice_id]
        )
    }
    now = timezone.now()
    requested: dict[str, ConsentConfirmation] = {}
    for choice in grants:
        purpose = newest[choice.purpose_key].purpose
        notice = shown.get(choice.notice_id)
        if notice is None or notice.purpose_id != purpose.pk:
            notice = newest[choice.purpose_key]
        # One request per purpose even when a batch names it twice: the last one counts.
        requested[choice.purpose_key] = _open_confirmation(
            ConsentConfirmation(
                subject_id=subject_id,
                purpose=purpose,
                notice=notice,
                method=str(method),
                source=source[:500],
                ip_address=ip_address,
                user_agent=user_agent[:500],
                evidence=evidence[:200],
                recorded_by=recorded_by,
                language=translation.get_language() or settings.LANGUAGE_CODE,
            ),
            now=now,
        )
    return list(requested.values())


def _open_confirmation(confirmation: ConsentConfirmation, *, now: datetime) -> ConsentConfirmation:
    """Save a new request, superseding the open one for the same person and purpose, and ask
    for its e-mail."""
    confirmation.requested_at = now
    confirmation.expires_at = now + timedelta(days=settings.CONSENT_CONFIRMATION_DAYS)
    for attempt in (1, 2):
        close_open_confirmations(
            subject_id=confirmation.subject_id,
            purpose_ids=[confirmation.purpose_id],
            reason=ClosedReason.SUPERSEDED,
            now=now,
        )
        try:
            # A savepoint: a concurrent request for the same purpose may have opened one
            # between our close and our insert (the partial unique index tells); close that
            # one too and try once more.
            with transaction.atomic():
                confirmation.save(force_insert=True)
            break
        except IntegrityError:
            confirmation.pk = None
            if attempt == 2:
                raise
    request_task(SEND_TASK, confirmation.pk, dedupe_key=f"consent-confirmation:{confirmation.pk}")
    return confirmation


def close_open_confirmations(
    *,
    subject_id: int,
    purpose_ids: Iterable[int],
    reason: ClosedReason,
    now: datetime | None = None,
) -> int:
    """Close the open requests of these purposes: a newer request, a withdrawal or a grant
    recorded another way has made them moot. Returns how many were closed."""
    purpose_ids = list(purpose_ids)
    if not purpose_ids:
        return 0
    return (
        ConsentConfirmation.objects.for_subject(subject_id)
        .open()
        .filter(purpose_id__in=purpose_ids)
        .update(closed_at=now or timezone.now(), closed_reason=reason)
    )


# --- Confirming --------------------------------------------------------------------------------


class ConfirmResult(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    EXPIRED = "expired"
    # Superseded by a newer link, withdrawn, granted another way, or the purpose is no
    # longer asked.
    CLOSED = "closed"
    # No lead is left to consent: the person was erased.
    SUBJECT_GONE = "subject_gone"


@dataclass(frozen=True)
class ConfirmOutcome:
    result: ConfirmResult
    confirmation: ConsentConfirmation
    record: ConsentRecord | None = None


def confirmation_for_token(token: str) -> ConsentConfirmation:
    """The confirmation a confirm link names; raises links.BadLink when the link is tampered
    with or names none (anymore)."""
    confirmation_id = links.read_confirmation_token(token)
    confirmation = (
        ConsentConfirmation.objects.select_related("purpose", "notice")
        .filter(pk=confirmation_id)
        .first()
    )
    if confirmation is None:
        raise links.BadLink("no such confirmation")
    return confirmation


def state_of(confirmation: ConsentConfirmation, *, now: datetime | None = None) -> ConfirmResult:
    """What following the link would do now, without doing it: CONFIRMED when it would
    confirm, otherwise why it would not."""
    if confirmation.confirmed_at is not None:
        return ConfirmResult.ALREADY_CONFIRMED
    if live_subject_id(confirmation.subject_id) is None:
        return ConfirmResult.SUBJECT_GONE
    if confirmation.is_expired(now):
        return ConfirmResult.EXPIRED
    if confirmation.closed_at is not None or not confirmation.purpose.is_active:
        return ConfirmResult.CLOSED
    if withdrawn_since(confirmation):
        return ConfirmResult.CLOSED
    return ConfirmResult.CONFIRMED


def withdrawn_since(confirmation: ConsentConfirmation) -> bool:
    """Whether a withdrawal was recorded after the request. A withdrawal through
    record_consents closes the request; this also catches one written another way (capture's
    single statement), so a later click can never undo it."""
    return (
        ConsentRecord.objects.for_subject(confirmation.subject_id)
        .filter(
            purpose_id=confirmation.purpose_id,
            granted=False,
            recorded_at__gte=confirmation.requested_at,
        )
        .exists()
    )


def confirm(
    token: str,
    *,
    ip_address: str | None = None,
    user_agent: str = "",
    now: datetime | None = None,
) -> ConfirmOutcome:
    """The person followed the link and confirmed: write the grant, once. Raises
    links.BadLink for a tampered link; every other case is an outcome that changed nothing."""
    requested = confirmation_for_token(token)
    confirmation_id = requested.pk
    now = now or timezone.now()
    with transaction.atomic():
        # The subject's consent changes are serialised: a withdrawal committing meanwhile is
        # seen by state_of and wins, instead of being overtaken by this grant.
        from consent.services import _lock_subject

        _lock_subject(requested.subject_id)
        # Locked: two clicks at once (a double click, a scanner) must write one record.
        confirmation = (
            ConsentConfirmation.objects.select_for_update(of=("self",))
            .select_related("purpose", "notice")
            .get(pk=confirmation_id)
        )
        result = state_of(confirmation, now=now)
        if result != ConfirmResult.CONFIRMED:
            return ConfirmOutcome(result, confirmation)
        record = ConsentRecord.objects.create(
            subject_id=confirmation.subject_id,
            purpose=confirmation.purpose,
            granted=True,
            notice=confirmation.notice,
            method=ConsentMethod.DOUBLE_OPT_IN,
            source=confirmation.source,
            # Where the confirmation came from: the proof the address is the person's.
            ip_address=ip_address,
            user_agent=user_agent[:500],
            evidence=f"confirmation:{confirmation.pk}",
        )
        consents_recorded.send(
            sender=ConsentRecord,
            subject_ids=[confirmation.subject_id],
            purpose_keys=[confirmation.purpose.key],
        )
        _lift_suppression(confirmation.subject_id)
        confirmation.confirmed_at = now
        confirmation.record = record
        confirmation.save(update_fields=["confirmed_at", "record"])
    return ConfirmOutcome(ConfirmResult.CONFIRMED, confirmation, record)


# --- Resending and expiry ------------------------------------------------------------------------


class ResendRefused(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def resend(*, confirmation_id: int, now: datetime | None = None) -> ConsentConfirmation:
    """A new link for the same request (the notice originally shown, the original evidence),
    superseding the old one; the e-mail goes out after commit. Raises ResendRefused with a
    message for the person when there is nothing to resend or too many links went out today."""
    now = now or timezone.now()
    with transaction.atomic():
        old = (
            ConsentConfirmation.objects.select_for_update(of=("self",))
            .select_related("purpose")
            .filter(pk=confirmation_id)
            .first()
        )
        if old is None:
            raise ResendRefused(_("There is no such request."))
        if old.confirmed_at is not None:
            raise ResendRefused(_("This consent was confirmed already."))
        if old.closed_reason == ClosedReason.WITHDRAWN or withdrawn_since(old):
            raise ResendRefused(_("This consent was withdrawn; there is nothing to confirm."))
        if old.closed_reason == ClosedReason.GRANTED:
            raise ResendRefused(_("This consent was given already; there is nothing to confirm."))
        if old.closed_reason == ClosedReason.SUPERSEDED:
            raise ResendRefused(_("A newer link was sent; please use the most recent e-mail."))
        if live_subject_id(old.subject_id) is None:
            raise ResendRefused(_("We no longer hold any data about this person."))
        if not Purpose.objects.grantable().filter(pk=old.purpose_id).exists():
            raise ResendRefused(_("This consent is no longer asked for."))
        sent_today = (
            ConsentConfirmation.objects.for_subject(old.subject_id)
            .filter(purpose_id=old.purpose_id, requested_at__gt=now - timedelta(days=1))
            .count()
        )
        if sent_today >= LINKS_PER_DAY:
            raise ResendRefused(
                _("Too many links were sent for this today. Please try again tomorrow.")
            )
        return _open_confirmation(
            ConsentConfirmation(
                subject_id=old.subject_id,
                purpose_id=old.purpose_id,
                notice_id=old.notice_id,
                method=old.method,
                source=old.source,
                ip_address=old.ip_address,
                user_agent=old.user_agent,
                evidence=old.evidence,
                recorded_by_id=old.recorded_by_id,
                language=old.language,
            ),
            now=now,
        )


def expire_due(now: datetime | None = None) -> int:
    """Close the requests nobody confirmed in time (nightly); returns how many."""
    now = now or timezone.now()
    return (
        ConsentConfirmation.objects.open()
        .filter(expires_at__lte=now)
        .update(closed_at=now, closed_reason=ClosedReason.EXPIRED)
    )


def forget_subject_confirmations(*, subject_id: int) -> int:
    """Delete a subject's confirmation requests (they hold an IP address and user agent): for
    erasure, before the consent records they point at are rewritten or removed."""
    deleted, _per_model = ConsentConfirmation.objects.for_subject(subject_id).delete()
    return deleted


# --- The e-mail ----------------------------------------------------------------------------------


def send_confirmation_email(*, confirmation_id: int) -> bool:
    """Send the confirmation e-mail of an open request, once; True when it went out. A
    request that was sent, closed, confirmed, expired or has no address left sends nothing."""
    with transaction.atomic():
        # Locked while sending: a redelivered task waits and then finds sent_at set.
        confirmation = (
            ConsentConfirmation.objects.select_for_update(of=("self",))
            .select_related("purpose", "notice")
            .filter(pk=confirmation_id)
            .first()
        )
        if (
            confirmation is None
            or confirmation.sent_at is not None
            or state_of(confirmation) != ConfirmResult.CONFIRMED
        ):
            return False
        address = subject_email(confirmation.subject_id)
        if not address:
            logger.info("consent: no address for confirmation %s", confirmation_id)
            return False
        confirmation_message(confirmation, to=address).send()
        confirmation.sent_at = timezone.now()
        confirmation.save(update_fields=["sent_at"])
    return True


def confirmation_message(confirmation: ConsentConfirmation, *, to: str) -> EmailMultiAlternatives:
    """The e-mail asking to confirm, in the language the person asked in: the notice text,
    the confirm link, a one-click withdrawal link and the preference page."""
    language = confirmation.language or settings.LANGUAGE_CODE
    with translation.override(language):
        withdraw = links.withdrawal_url(confirmation.subject_id, confirmation.purpose.key)
        context = {
            "purpose_name": confirmation.purpose.name,
            "notice_text": confirmation.notice.text,
            "confirm_url": links.confirmation_url(confirmation),
            "withdrawal_url": withdraw,
            "preferences_url": links.preferences_url(confirmation.subject_id),
            "expires_at": confirmation.expires_at,
        }
        subject = render_to_string("consent/email/confirmation_subject.txt", context)
        message = EmailMultiAlternatives(
            subject=" ".join(subject.split()),
            body=render_to_string("consent/email/confirmation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={
                # RFC 2369 and RFC 8058: mail clients offer a one-click unsubscribe button
                # that POSTs "List-Unsubscribe=One-Click" to the link.
                "List-Unsubscribe": f"<{withdraw}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(
            render_to_string("consent/email/confirmation.html", context), "text/html"
        )
    return message


def _lift_suppression(subject_id: int) -> None:
    """A confirmed grant is the new, explicit consent that takes a person erased on request
    off the suppression list (capture lifts it at once only for grants needing no
    confirmation: a typed-in address proves nothing)."""
    from consent.subjects import subject_email
    from privacy.models import SuppressedAddress, address_hash

    email = subject_email(subject_id)
    if email:
        SuppressedAddress.objects.filter(address_hash=address_hash(email)).delete()
