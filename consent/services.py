"""Recording and reading consent. Every grant and withdrawal is a new ConsentRecord."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.translation import gettext as _

from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose


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
    """Record each choice with the notice shown for it. Unknown purposes change nothing."""
    given = list(given)
    unknown = unknown_purposes(given)
    if unknown:
        raise UnknownPurpose(unknown)
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
    return ConsentRecord.objects.bulk_create(records)


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


def move_subject(*, from_subject_id: int, to_subject_id: int) -> int:
    """Give one subject's consent history to another (two lead records were one person).

    The records themselves stay as they were written; only whose they are changes, so the
    survivor's history shows every choice the person made under either record.
    """
    with rewriting_consent_records():
        # A queryset update on purpose: ConsentRecord.save() refuses to rewrite a record.
        records = ConsentRecord.objects.filter(subject_id=from_subject_id)
        return records.update(subject_id=to_subject_id)


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
