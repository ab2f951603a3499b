"""Recording and reading consent. Every grant and withdrawal is a new ConsentRecord."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import (
    ClosedReason,
    ConsentConfirmation,
    ConsentMethod,
    ConsentRecord,
    NoticeVersion,
    Purpose,
)
from consent.signals import consents_recorded


@dataclass(frozen=True)
class ConsentGiven:
    """A choice a person made about one purpose: granted (True) or withdrawn (False).

    `notice_id` names the notice version the person was shown, when the channel knows it
    (a web form rendered it); otherwise the purpose's newest notice is the one recorded.
    """

    purpose_key: str
    granted: bool
    notice_id: int | None = None


class UnknownPurpose(ValueError):
    def __init__(self, keys: Iterable[str]):
        self.keys = sorted(keys)
        super().__init__(_("Unknown consent purpose: %(keys)s") % {"keys": ", ".join(self.keys)})


def active_purpose_keys() -> set[str]:
    """Keys of the purposes consent can be granted for now: active, with a notice text."""
    return set(Purpose.objects.grantable().values_list("key", flat=True))


@dataclass(frozen=True)
class PurposeRules:
    """Which purposes a choice may name. A grant needs an active purpose with a notice; a
    withdrawal only a purpose that exists: withdrawing must stay possible after a purpose is
    switched off (GDPR art. 7(3))."""

    grantable: frozenset[str]
    existing: frozenset[str]

    @classmethod
    def of(cls, purposes: Iterable[tuple[str, bool]]) -> "PurposeRules":
        """From (key, grantable) pairs of the purposes that exist."""
        purposes = list(purposes)
        return cls(
            grantable=frozenset(key for key, grantable in purposes if grantable),
            existing=frozenset(key for key, _grantable in purposes),
        )

    def refused(self, choices: Iterable[ConsentGiven]) -> set[str]:
        return {
            choice.purpose_key
            for choice in choices
            if choice.purpose_key not in (self.grantable if choice.granted else self.existing)
        }


def purposes_named(keys: Iterable[str]):
    """The purposes with these keys that exist, each annotated `grantable`."""
    return Purpose.objects.filter(key__in=set(keys)).with_grantable()


def purpose_rules(keys: Iterable[str]) -> PurposeRules:
    return PurposeRules.of(purposes_named(keys).values_list("key", "grantable"))


def unknown_purposes(choices: Iterable[ConsentGiven]) -> set[str]:
    """The purposes among `choices` that cannot be recorded (see PurposeRules)."""
    choices = list(choices)
    if not choices:
        return set()
    return purpose_rules(choice.purpose_key for choice in choices).refused(choices)


def current_notices(purpose_keys: Iterable[str]) -> dict[str, NoticeVersion]:
    """The newest notice of each named, active purpose; raises UnknownPurpose for the rest."""
    keys = set(purpose_keys)
    if not keys:
        return {}
    newest: dict[str, NoticeVersion] = {}
    # Ascending versions: the last one seen per purpose is its newest.
    for notice in (
        NoticeVersion.objects.filter(purpose__key__in=keys, purpose__is_active=True)
        .select_related("purpose")
        .order_by("version")
    ):
        newest[notice.purpose.key] = notice
    missing = keys - set(newest)
    if missing:
        raise UnknownPurpose(missing)
    return newest


@transaction.atomic
def record_consents(
    *,
    subject_id: int,
    given: Iterable[ConsentGiven],
    method: ConsentMethod | str,
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    evidence: str = "",
    recorded_by=None,
) -> list[ConsentRecord]:
    """Record each choice with the notice shown for it. Unknown purposes change nothing.

    A grant through a web form, the API or an import of a purpose that requires double opt-in
    is not recorded: the person is asked to confirm it by e-mail (see consent.confirmation),
    and only the records written are returned. A withdrawal also closes the purpose's open
    confirmation request, and a grant recorded at once makes it moot.
    """
    # Imported here: consent.confirmation builds on this module.
    from consent.confirmation import (
        close_open_confirmations,
        double_opt_in_keys,
        needs_confirmation,
        request_confirmations,
    )

    given = list(given)
    unknown = unknown_purposes(given)
    if unknown:
        raise UnknownPurpose(unknown)
    if needs_confirmation(method):
        waiting = double_opt_in_keys(choice.purpose_key for choice in given if choice.granted)
        if waiting:
            request_confirmations(
                subject_id=subject_id,
                choices=[c for c in given if c.granted and c.purpose_key in waiting],
                method=method,
                source=source,
                ip_address=ip_address,
                user_agent=user_agent,
                evidence=evidence,
                recorded_by=recorded_by,
            )
            given = [c for c in given if not (c.granted and c.purpose_key in waiting)]
    if not given:
        return []
    notices = current_notices(choice.purpose_key for choice in given if choice.granted)
    purposes = {notice.purpose.key: notice.purpose for notice in notices.values()}
    purposes |= {
        purpose.key: purpose
        for purpose in Purpose.objects.filter(
            key__in={choice.purpose_key for choice in given if not choice.granted}
        )
    }
    shown = {
        notice.pk: notice
        for notice in NoticeVersion.objects.filter(
            pk__in=[choice.notice_id for choice in given if choice.notice_id]
        )
    }

    def notice_for(choice: ConsentGiven) -> NoticeVersion | None:
        if not choice.granted:
            return None
        notice = shown.get(choice.notice_id)
        if notice is not None and notice.purpose_id == purposes[choice.purpose_key].pk:
            return notice
        return notices[choice.purpose_key]

    records = [
        ConsentRecord(
            subject_id=subject_id,
            purpose=purposes[choice.purpose_key],
            granted=choice.granted,
            notice=notice_for(choice),
            method=method,
            source=source[:500],
            ip_address=ip_address,
            user_agent=user_agent[:500],
            evidence=evidence[:200],
            recorded_by=recorded_by,
        )
        for choice in given
    ]
    written = ConsentRecord.objects.bulk_create(records)
    consents_recorded.send(
        sender=ConsentRecord,
        subject_ids=[subject_id],
        purpose_keys=[choice.purpose_key for choice in given],
    )
    for granted, reason in ((False, ClosedReason.WITHDRAWN), (True, ClosedReason.GRANTED)):
        close_open_confirmations(
            subject_id=subject_id,
            purpose_ids={record.purpose_id for record in written if record.granted == granted},
            reason=reason,
        )
    return written


def consent_status(subject_id: int) -> dict[str, ConsentRecord]:
    """The latest record per purpose key for one subject: the current state of consent."""
    latest: dict[str, ConsentRecord] = {}
    for record in (
        ConsentRecord.objects.for_subject(subject_id)
        .select_related("purpose", "notice")
        .order_by("recorded_at", "id")
    ):
        latest[record.purpose.key] = record
    return latest


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    # Asked for through a channel that needs double opt-in, not yet confirmed.
    PENDING = "pending"
    NEVER = "never"


@dataclass(frozen=True)
class SubjectPurposeState:
    """Where one subject stands on one purpose: the status, the latest record (the proof of
    it) and the open, still confirmable double opt-in request, if any."""

    purpose: Purpose
    status: ConsentStatus
    record: ConsentRecord | None = None
    confirmation: ConsentConfirmation | None = None

    @property
    def granted(self) -> bool:
        return self.status == ConsentStatus.GRANTED


def consent_state(
    subject_id: int, *, records: Iterable[ConsentRecord] | None = None
) -> dict[str, SubjectPurposeState]:
    """Each purpose's state for one subject, keyed by purpose key in purpose order: every
    active purpose, and the others the subject made a choice about or was asked for.

    A grant stands until a withdrawal; a pending request is "pending" unless a grant already
    stands (a new form submission re-asking for it does not suspend it). `records`: all of
    the subject's records with their purposes, when the caller read them already (the
    consent panel shows the history too).
    """
    if records is None:
        latest = consent_status(subject_id)
    else:
        latest = {}
        for record in sorted(records, key=lambda r: (r.recorded_at, r.pk)):
            latest[record.purpose.key] = record
    waiting = {
        confirmation.purpose.key: confirmation
        for confirmation in ConsentConfirmation.objects.for_subject(subject_id)
        .pending()
        .select_related("purpose", "notice")
    }
    keys = set(latest) | set(waiting)
    states: dict[str, SubjectPurposeState] = {}
    for purpose in Purpose.objects.filter(Q(is_active=True) | Q(key__in=keys)):
        record, confirmation = latest.get(purpose.key), waiting.get(purpose.key)
        if (
            confirmation is not None
            and record is not None
            and not record.granted
            and record.recorded_at >= confirmation.requested_at
        ):
            # Withdrawn after it was asked for (see consent.confirmation.withdrawn_since).
            confirmation = None
        if record is not None and record.granted:
            status = ConsentStatus.GRANTED
        elif confirmation is not None:
            status = ConsentStatus.PENDING
        elif record is not None:
            status = ConsentStatus.WITHDRAWN
        else:
            status = ConsentStatus.NEVER
        states[purpose.key] = SubjectPurposeState(purpose, status, record, confirmation)
    return states


def has_consent(subject_id: int, purpose_key: str) -> bool:
    """Whether the subject's latest choice about this purpose is a grant: pending or never
    asked is no."""
    latest = (
        ConsentRecord.objects.for_subject(subject_id)
        .filter(purpose__key=purpose_key)
        .order_by("-recorded_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


@transaction.atomic
def withdraw_consents(
    *,
    subject_id: int,
    purpose_keys: Iterable[str] | None,
    method: ConsentMethod | str,
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    evidence: str = "",
    recorded_by=None,
) -> list[ConsentRecord]:
    """Withdraw the named purposes, or (None) every marketing purpose, where a grant stands
    or a confirmation is pending. A withdrawal already in effect writes nothing: the list of
    records written is empty then. Unknown purposes raise UnknownPurpose."""
    if purpose_keys is None:
        keys = set(Purpose.objects.filter(is_marketing=True).values_list("key", flat=True))
    else:
        keys = set(purpose_keys)
        unknown = keys - set(Purpose.objects.filter(key__in=keys).values_list("key", flat=True))
        if unknown:
            raise UnknownPurpose(unknown)
    # Locked per subject so two clicks at once write one withdrawal, not two.
    _lock_subject(subject_id)
    states = consent_state(subject_id)
    standing = sorted(
        key
        for key in keys
        if key in states and states[key].status in (ConsentStatus.GRANTED, ConsentStatus.PENDING)
    )
    return record_consents(
        subject_id=subject_id,
        given=[ConsentGiven(key, False) for key in standing],
        method=method,
        source=source,
        ip_address=ip_address,
        user_agent=user_agent,
        evidence=evidence,
        recorded_by=recorded_by,
    )


def _lock_subject(subject_id: int) -> None:
    """Serialise consent changes of one subject until the transaction ends (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext('consent-subject'), %s::int)",
                [subject_id % 2**31],
            )


def move_subject(*, from_subject_id: int, to_subject_id: int) -> int:
    """Give one subject's consent history to another (two lead records were one person).

    The records themselves stay as they were written; only whose they are changes, so the
    survivor's history shows every choice the person made under either record.
    """
    with rewriting_consent_records():
        # A queryset update on purpose: ConsentRecord.save() refuses to rewrite a record.
        records = ConsentRecord.objects.filter(subject_id=from_subject_id)
        moved = records.update(subject_id=to_subject_id)
        # Requests still waiting follow the person; where the survivor has one open for the
        # same purpose, the newer of the two stays open.
        moving = ConsentConfirmation.objects.for_subject(from_subject_id)
        for confirmation in moving.open():
            rival = (
                ConsentConfirmation.objects.for_subject(to_subject_id)
                .open()
                .filter(purpose_id=confirmation.purpose_id)
                .first()
            )
            if rival is not None:
                older = min(rival, confirmation, key=lambda c: (c.requested_at, c.pk))
                older.closed_at, older.closed_reason = timezone.now(), ClosedReason.SUPERSEDED
                older.save(update_fields=["closed_at", "closed_reason"])
        moving.update(subject_id=to_subject_id)
        return moved


@contextmanager
def rewriting_consent_records() -> Iterator[None]:
    """Open the database's guard on consent records for this block (PostgreSQL; see
    consent/migrations/0003_append_only_guard.py). Only for the legitimate rewrites: a merge
    moving a history to the surviving lead, erasure under a legal duty. The block is one
    transaction, and the guard closes again when it ends."""
    with transaction.atomic():
        _set_rewriting("on")
        yield
        # On an error the rollback closes it.
        _set_rewriting("off")


def _set_rewriting(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('leadladder.rewriting_consent', %s, true)", [value])
