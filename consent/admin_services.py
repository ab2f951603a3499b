"""Admins' work on processing purposes: defining them with their notice texts, and the
figures of the records of processing (GDPR art. 30).

A notice is never edited: new wording is a new NoticeVersion, so every consent record keeps
proving the exact text the person read.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, Subquery

from consent.models import ConsentRecord, NoticeVersion, Purpose, PurposeChange
from consent.signals import purpose_changed

# The purpose's own fields an admin sets on every edit; the key is fixed at creation because
# web forms, imports and API clients name the purpose by it.
PURPOSE_FIELDS = (
    "name_en",
    "name_nl",
    "legal_basis",
    "is_marketing",
    "is_profiling",
    "requires_double_opt_in",
    "is_active",
)


@dataclass(frozen=True)
class PurposeSaved:
    purpose: Purpose
    # The notice version this save created; None when the wording stayed the same.
    new_notice: NoticeVersion | None


@transaction.atomic
def create_purpose(
    *,
    actor,
    key: str,
    name_en: str,
    name_nl: str,
    legal_basis: str,
    is_marketing: bool = False,
    is_profiling: bool = False,
    requires_double_opt_in: bool = False,
    text_en: str,
    text_nl: str,
) -> PurposeSaved:
    """Create an active purpose with its first notice (version 1), written by `actor`.

    A purpose without a notice could never be granted, so the two are made together."""
    purpose = Purpose.objects.create(
        key=key,
        name_en=name_en,
        name_nl=name_nl,
        legal_basis=legal_basis,
        is_marketing=is_marketing,
        is_profiling=is_profiling,
        requires_double_opt_in=requires_double_opt_in,
        is_active=True,
    )
    notice = NoticeVersion.objects.create(
        purpose=purpose, version=1, text_en=text_en, text_nl=text_nl, created_by=actor
    )
    return PurposeSaved(purpose=purpose, new_notice=notice)


@transaction.atomic
def update_purpose(
    *,
    actor,
    purpose_id: int,
    name_en: str,
    name_nl: str,
    legal_basis: str,
    is_marketing: bool,
    is_profiling: bool,
    requires_double_opt_in: bool,
    is_active: bool,
    text_en: str,
    text_nl: str,
) -> PurposeSaved:
    """Change a purpose's names, legal basis, flags and whether it is active; when the
    English or Dutch notice text differs from the current notice, add the next notice
    version. Older versions stay as they are. Raises Purpose.DoesNotExist."""
    # Locking the purpose serialises two admins saving at once: both would otherwise read the
    # same newest version and the second insert would break notice_one_per_version.
    purpose = Purpose.objects.select_for_update().get(pk=purpose_id)
    changes = {}
    for name, value in {
        "name_en": name_en,
        "name_nl": name_nl,
        "legal_basis": legal_basis,
        "is_marketing": is_marketing,
        "is_profiling": is_profiling,
        "requires_double_opt_in": requires_double_opt_in,
        "is_active": is_active,
    }.items():
        if getattr(purpose, name) != value:
            changes[name] = [getattr(purpose, name), value]
        setattr(purpose, name, value)
    purpose.save(update_fields=PURPOSE_FIELDS)
    if changes:
        # Which legal basis applied when is part of what the records of processing prove.
        PurposeChange.objects.create(purpose=purpose, changes=changes, actor=actor)
        purpose_changed.send(sender=Purpose, purpose_id=purpose.pk, changes=changes)

    current = purpose.current_notice()
    new_notice = None
    if current is None or (current.text_en, current.text_nl) != (text_en, text_nl):
        new_notice = NoticeVersion.objects.create(
            purpose=purpose,
            version=(current.version if current else 0) + 1,
            text_en=text_en,
            text_nl=text_nl,
            created_by=actor,
        )
    return PurposeSaved(purpose=purpose, new_notice=new_notice)


# --- Records of processing ---------------------------------------------------------------------


def active_consent_counts() -> dict[int, int]:
    """Purpose id -> how many subjects consent to it now: whose latest record for the purpose
    is a grant. Purposes nobody consents to are left out.

    One query: DISTINCT ON keeps each subject's latest record per purpose (the order of
    consent_status: recorded_at, then id), however many records there are.
    """
    # Only our own table name is formatted in; nothing comes from input.
    table = connection.ops.quote_name(ConsentRecord._meta.db_table)
    if connection.vendor == "postgresql":
        latest = f"""
            SELECT DISTINCT ON (subject_id, purpose_id) purpose_id, granted
            FROM {table}
            ORDER BY subject_id, purpose_id, recorded_at DESC, id DESC
        """
    else:
        # The embedded database (`make run`) has no DISTINCT ON: the same choice by rank.
        latest = f"""
            SELECT purpose_id, granted FROM (
                SELECT purpose_id, granted, ROW_NUMBER() OVER (
                    PARTITION BY subject_id, purpose_id ORDER BY recorded_at DESC, id DESC
                ) AS newest
                FROM {table}
            ) AS ranked WHERE newest = 1
        """
    sql = f"""
        SELECT latest.purpose_id, COUNT(*)
        FROM ({latest}) AS latest
        WHERE latest.granted
        GROUP BY latest.purpose_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def purposes_with_notice_summary():
    """Every purpose annotated with `notice_count`, `current_version` and
    `current_notice_at` (when its newest notice was written), in key order."""
    newest = NoticeVersion.objects.filter(purpose=OuterRef("pk")).order_by("-version")
    return Purpose.objects.annotate(
        notice_count=Count("notices"),
        current_version=Max("notices__version"),
        current_notice_at=Subquery(newest.values("created_at")[:1]),
    ).order_by("key")


def retention_policies_by_purpose() -> dict[int | None, list] | None:
    """Purpose id -> the active retention policies naming it (None -> those about leads
    whatever their purposes), shortest first; None while there is no retention app.

    Looked up by name: consent depends on no other app of ours, retention depends on it."""
    try:
        policy_model = apps.get_model("retention", "RetentionPolicy")
    except LookupError:
        return None
    by_purpose: dict[int | None, list] = {}
    for policy in policy_model.objects.filter(is_active=True).order_by("months", "id"):
        by_purpose.setdefault(policy.purpose_id, []).append(policy)
    return by_purpose
