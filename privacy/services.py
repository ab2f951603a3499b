"""Data-subject requests: everything held on a person as a zip (access and portability), and
erasing the person everywhere, remembered only by a salted hash on the suppression list.

A person is one lead and every lead merged into it: a merge says two records were one
person, so an export shows both and an erasure removes both.

Where a person's data lives, and what erasure does with it:
- leads.Lead (and merged-away leads), leads.Event (notes are events), leads.OwnerChange,
  leads.LeadMerge (snapshots of duplicates), scoring.StageTransition (reasons, BANT),
  activities.Activity (logged calls, e-mails, meetings and their notes), activities.Task:
  deleted with the leads.
- consent.ConsentRecord (IP, user agent, source, evidence) and consent.ConsentConfirmation
  (when that model exists): deleted through the one door the append-only guard has,
  `rewriting_consent_records`.
- imports: refused rows (ImportRowError) with the address are deleted; dry-run results lose
  their entries for the address (both are in the export too); in every stored import file
  each row holding the address is blanked: its cells are emptied, the row stays as an empty
  line. An import skips blank lines and numbers rows by their place in the file, so a
  half-done import resumes at the right row and refused-row numbers still point at the
  right lines.
- api.IdempotencyKey: stored answers that hold the address are deleted (a retry of such a
  request is then done again, and capture refuses the suppressed address).
- scoring.ImpactPreview: example leads of a criteria preview are removed from its result.
- Django's admin log entries about the leads.
- outbox.OutboxMessage: a capture's request for a double opt-in confirmation
  (leads.tasks.request_confirmation_task) carries the consent evidence in its arguments
  (source URL, IP address, user agent): those rows of the person's leads are deleted, pending
  or published. Every other outbox row holds ids only, and its task tolerates a lead that is
  gone, so it stays.
- funnel read model (LeadMilestone, FunnelRejection, when the funnel app is installed): the
  rows of the leads are deleted, and their counts are taken out of the funnel's facts at the
  same time, as the funnel's own refresh would do for a deleted lead. They hold the lead's
  id with its source, campaign and dates: nothing of the person to export, but the id ties
  the rows to the person in older backups and logs, so they go.
- webforms.BlockedSubmission holds no submitted data (no address: only the form, an IP and a
  user agent, kept to tell bots apart), so there is nothing of the person to find there.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower, Trim
from django.utils import timezone

from activities.models import Activity, Task
from api.models import IdempotencyKey
from consent.models import ConsentRecord
from consent.services import rewriting_consent_records
from imports.models import ImportJob, ImportRowError
from leads.models import Event, EventType, Lead, LeadMerge, OwnerChange
from leads.normalise import normalise_email
from leads.services.capture import CONFIRMATION_TASK
from leads.services.export import neutralise_formula
from outbox.models import OutboxMessage
from privacy.models import (
    Channel,
    RequestKind,
    SubjectRequest,
    SuppressedAddress,
    address_hash,
)
from scoring.models import ImpactPreview, StageTransition
from scoring.services import explanation

logger = logging.getLogger(__name__)

ERASED = "[erased]"

# The tables of an export, in the order the README lists them.
EXPORT_TABLES = (
    "profile",
    "events",
    "notes",
    "consents",
    "confirmations",
    "stage_history",
    "score",
    "owner_changes",
    "merges",
    "activities",
    "tasks",
    "import_row_errors",
    "import_preview_rows",
)

PROFILE_FIELDS = [
    "id", "email", "first_name", "last_name", "phone", "company", "job_title", "seniority",
    "is_decision_maker", "company_size", "industry", "country", "budget", "need",
    "timeframe", "source", "campaign", "utm_source", "utm_medium", "utm_campaign", "stage",
    "score", "fit_score", "engagement_score", "buying_stage", "created_at",
    "updated_at", "last_activity_at", "merged_into",
]  # fmt: skip

README = """\
Everything Leadladder holds on one person
=========================================

Request reference: {reference}
Made at: {made_at}

subject.json holds all of it in one document. The same data is in one CSV file per table
(UTF-8, comma-separated, one row per record):

  profile.csv        the person's details; one row per lead record (records found to be
                     the same person were merged; the first row is the one in use)
  events.csv         what the person did or what happened with them (page views, forms,
                     e-mail clicks, calls, meetings)
  notes.csv          notes made about the person
  consents.csv       every consent given or withdrawn, with the exact notice text shown
  confirmations.csv  double opt-in confirmations
  stage_history.csv  every change of stage, with the reason
  score.csv          how the current score is made up, criterion by criterion
  owner_changes.csv  which colleague was responsible for the person, and when
  merges.csv         records merged into the one in use, as they were when merged
  activities.csv     calls, e-mails and meetings sales logged with the person, with notes
  tasks.csv          follow-ups sales planned for the person
  import_row_errors.csv    rows with the person's address that a file import refused
  import_preview_rows.csv  the same, as found by the check before an import

Dates and times are in ISO 8601 with their UTC offset. JSON values inside a CSV cell
(event properties, stage details) are written as JSON text.
"""


class SubjectNotFound(LookupError):
    """No lead holds this address."""


class SubjectErased(LookupError):
    """No lead holds this address, and it is on the suppression list: it was erased."""


# --- Finding the person ------------------------------------------------------------------------


def find_subject(email: str) -> Lead:
    """The lead a person with this address is: the active lead holding it, or the survivor
    a merged-away lead with it was merged into. Raises SubjectErased for an erased address,
    SubjectNotFound for an unknown one."""
    address = normalise_email(email or "")
    match = (
        Lead.objects.reached_by([address])
        .order_by(F("merged_into").asc(nulls_first=True), "pk")
        .values_list("reaches_id", flat=True)
        .first()
    )
    if match is not None:
        return Lead.objects.get(pk=match)
    if address and is_suppressed(address):
        raise SubjectErased(address)
    raise SubjectNotFound(address)


def subject_leads(lead: Lead) -> list[Lead]:
    """The lead in use first, then every lead merged into it (also through older merges)."""
    survivor = lead
    while survivor.merged_into_id is not None:
        survivor = Lead.objects.get(pk=survivor.merged_into_id)
    found = [survivor]
    frontier = [survivor.pk]
    while frontier:
        merged = list(
            Lead.objects.filter(merged_into__in=frontier).exclude(pk__in=[one.pk for one in found])
        )
        found += merged
        frontier = [one.pk for one in merged]
    return found


# --- Suppression -------------------------------------------------------------------------------


def is_suppressed(email: str) -> bool:
    """Whether this address was erased and may not silently come in again."""
    return SuppressedAddress.objects.filter(address_hash=address_hash(email)).exists()


def lift_suppression(email: str) -> bool:
    """Forget that the address was erased, because the person gave a new, explicit consent.
    True when it was suppressed."""
    deleted, _per_model = SuppressedAddress.objects.filter(
        address_hash=address_hash(email)
    ).delete()
    return bool(deleted)


# --- Export ------------------------------------------------------------------------------------


def _confirmation_model():
    """consent.ConsentConfirmation, once the double opt-in work has added it."""
    try:
        return apps.get_model("consent", "ConsentConfirmation")
    except LookupError:
        return None


def subject_data(lead: Lead) -> dict[str, Any]:
    """Everything held on the person `lead` is, as one JSON-ready document."""
    leads = subject_leads(lead)
    survivor = leads[0]
    ids = [one.pk for one in leads]
    profiles = {
        row["id"]: row
        for row in Lead.objects.filter(pk__in=ids).values(*PROFILE_FIELDS, "owner__username")
    }
    for row in profiles.values():
        row["owner"] = row.pop("owner__username")

    events, notes = [], []
    for row in (
        Event.objects.filter(lead_id__in=ids)
        .order_by("occurred_at", "id")
        .values("id", "lead_id", "type", "url", "occurred_at", "properties", "created_at")
    ):
        (notes if row["type"] == EventType.NOTE else events).append(row)

    consents = []
    for record in (
        ConsentRecord.objects.filter(subject_id__in=ids)
        .select_related("purpose", "notice")
        .order_by("recorded_at", "id")
    ):
        consents.append(
            {
                "id": record.pk,
                "purpose": record.purpose.key,
                "purpose_name": record.purpose.name_en,
                "legal_basis": record.purpose.legal_basis,
                "granted": record.granted,
                "method": record.method,
                "source": record.source,
                "ip_address": record.ip_address,
                "user_agent": record.user_agent,
                "evidence": record.evidence,
                "recorded_at": record.recorded_at,
                "notice_version": record.notice.version if record.notice else None,
                "notice_text_en": record.notice.text_en if record.notice else "",
                "notice_text_nl": record.notice.text_nl if record.notice else "",
            }
        )

    confirmations = []
    if (model := _confirmation_model()) is not None:
        fields = [field.attname for field in model._meta.concrete_fields]
        rows = model.objects.filter(subject_id__in=ids).order_by("pk")
        confirmations = list(rows.values(*fields))

    stage_history = list(
        StageTransition.objects.filter(lead_id__in=ids)
        .order_by("occurred_at", "id")
        .values(
            "id",
            "lead_id",
            "occurred_at",
            "from_stage",
            "to_stage",
            "reason",
            "score",
            "details",
            criteria_version_number=F("criteria_version__number"),
        )
    )
    owner_changes = list(
        OwnerChange.objects.filter(lead_id__in=ids)
        .order_by("changed_at", "id")
        .values(
            "id",
            "lead_id",
            "changed_at",
            "reason",
            from_owner_username=F("from_owner__username"),
            to_owner_username=F("to_owner__username"),
        )
    )
    merges = list(
        LeadMerge.objects.filter(Q(survivor_id__in=ids) | Q(duplicate_id__in=ids))
        .order_by("merged_at", "id")
        .values("id", "survivor_id", "duplicate_id", "merged_at", "duplicate_snapshot")
    )
    activities = list(
        Activity.objects.filter(lead_id__in=ids)
        .order_by("occurred_at", "id")
        .values(
            "id",
            "lead_id",
            "kind",
            "outcome",
            "notes",
            "occurred_at",
            "created_at",
            actor_username=F("actor__username"),
        )
    )
    tasks = list(
        Task.objects.filter(lead_id__in=ids)
        .order_by("due_at", "id")
        .values(
            "id",
            "lead_id",
            "title",
            "due_at",
            "done_at",
            "created_at",
            assignee_username=F("assignee__username"),
            done_by_username=F("done_by__username"),
            created_by_username=F("created_by__username"),
        )
    )
    addresses = Traces.of(leads).addresses
    import_row_errors = list(
        _refused_import_rows(addresses)
        .order_by("job_id", "row_number", "id")
        .values("id", "job_id", "row_number", "email", "errors", file_name=F("job__file_name"))
    )
    import_preview_rows = [
        {"job_id": job.pk, "file_name": job.file_name, **entry}
        for job in _import_jobs_previewing(addresses).order_by("pk")
        for entry in job.preview.get("errors") or []
        if _is_theirs(entry, addresses)
    ]
    score = explanation(survivor)
    return {
        "profile": profiles[survivor.pk],
        "merged_leads": [profiles[one.pk] for one in leads[1:]],
        "events": events,
        "notes": notes,
        "consents": consents,
        "confirmations": confirmations,
        "stage_history": stage_history,
        "score": score,
        "owner_changes": owner_changes,
        "merges": merges,
        "activities": activities,
        "tasks": tasks,
        "import_row_errors": import_row_errors,
        "import_preview_rows": import_preview_rows,
    }


def _tables(data: dict[str, Any]) -> dict[str, list[dict]]:
    """The document as flat tables, one per CSV file."""
    score = data["score"]
    return {
        "profile": [data["profile"], *data["merged_leads"]],
        "events": data["events"],
        "notes": data["notes"],
        "consents": data["consents"],
        "confirmations": data["confirmations"],
        "stage_history": data["stage_history"],
        "score": [
            {
                "version": score["version"],
                "criterion": line["criterion"],
                "kind": line["kind"],
                "met": line["met"],
                "points": line["points"],
            }
            for line in score["lines"]
        ]
        if score
        else [],
        "owner_changes": data["owner_changes"],
        "merges": data["merges"],
        "activities": data["activities"],
        "tasks": data["tasks"],
        "import_row_errors": data["import_row_errors"],
        "import_preview_rows": data["import_preview_rows"],
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
    elif not isinstance(value, str):
        value = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
        value = str(value).lower() if isinstance(value, bool) else str(value)
    # The person opens this in a spreadsheet: a value they typed must not run as a formula.
    return neutralise_formula(value)


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue().encode("utf-8")


def _zip(data: dict[str, Any], *, reference: str, made_at) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt", README.format(reference=reference, made_at=made_at.isoformat())
        )
        document = {"reference": reference, "made_at": made_at, **data}
        archive.writestr(
            "subject.json",
            json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        )
        for name, rows in _tables(data).items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _check_channel(channel: str) -> None:
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")


def export_subject(*, lead: Lead, actor=None, channel: str) -> bytes:
    """Everything held on the person as a zip: subject.json, one CSV per table and a
    README.txt. Logged as a SubjectRequest (kind export) with actor, channel and time."""
    _check_channel(channel)
    with transaction.atomic():
        data = subject_data(lead)
        counts = {name: len(rows) for name, rows in _tables(data).items()}
        request = SubjectRequest.objects.create(
            kind=RequestKind.EXPORT, actor=actor, channel=channel, counts=counts
        )
        # Built inside the transaction: an export that fails is not logged as made.
        return _zip(data, reference=str(request.reference), made_at=request.requested_at)


def export_file_name(lead: Lead) -> str:
    """A name for the zip that does not name the person: file names end up in logs."""
    return f"subject-{lead.pk}-{timezone.now():%Y%m%d-%H%M%S}.zip"


# --- Erasure -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traces:
    """What identifies the person in free text: addresses, names, phone numbers."""

    addresses: frozenset[str]
    words: frozenset[str]

    @classmethod
    def of(cls, leads: Iterable[Lead]) -> Traces:
        addresses, words = set(), set()
        for lead in leads:
            if lead.email:
                addresses.add(normalise_email(lead.email))
            for value in (lead.full_name, lead.first_name, lead.last_name, lead.phone):
                if value and len(value.strip()) >= 2:
                    words.add(value.strip())
        return cls(frozenset(addresses), frozenset(words))

    def scrub(self, text: str) -> str:
        # Longest first: the full name goes before the first name inside it.
        for value in sorted(self.addresses | self.words, key=len, reverse=True):
            text = re.sub(re.escape(value), ERASED, text, flags=re.IGNORECASE)
        return text


def erase_subject(*, lead: Lead, actor=None, reason: str, channel: str) -> SubjectRequest:
    """Erase the person everywhere (see this module's docstring for what that means per
    table), put their addresses on the suppression list and log the erasure: what kind of
    data and how much, by whom, why, how and when, but nothing of the person.

    One transaction: any error rolls all of it back, so a person is never half erased. The
    rewritten import files replace the stored ones only once the transaction commits."""
    _check_channel(channel)
    rewritten: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            request = _erase(lead=lead, actor=actor, reason=reason, channel=channel, out=rewritten)
            # robust: the database is erased by then; a failed rename is logged, not raised
            # as if the erasure had failed.
            transaction.on_commit(lambda: _swap_files(rewritten), robust=True)
    except BaseException:
        _discard_files(rewritten)
        raise
    return request


def _erase(*, lead: Lead, actor, reason: str, channel: str, out: list) -> SubjectRequest:
    leads = subject_leads(lead)
    # Lock the person's leads: a merge or capture running now waits, then finds them gone.
    leads = list(
        Lead.objects.select_for_update().filter(pk__in=[one.pk for one in leads]).order_by("pk")
    )
    ids = [one.pk for one in leads]
    traces = Traces.of(leads)
    counts: dict[str, int] = {}

    with rewriting_consent_records():
        # Confirmations first: they point at the record they produced.
        if (model := _confirmation_model()) is not None:
            counts["consent_confirmations"] = model.objects.filter(subject_id__in=ids).delete()[0]
        counts["consent_records"] = ConsentRecord.objects.filter(subject_id__in=ids).delete()[0]

    events = Event.objects.filter(lead_id__in=ids)
    counts["notes"] = events.filter(type=EventType.NOTE).count()
    counts["events"] = events.exclude(type=EventType.NOTE).count()
    counts["stage_transitions"] = StageTransition.objects.filter(lead_id__in=ids).count()
    counts["owner_changes"] = OwnerChange.objects.filter(lead_id__in=ids).count()
    # Cascade with the leads; counted here so the log says what went.
    counts["activities"] = Activity.objects.filter(lead_id__in=ids).count()
    counts["tasks"] = Task.objects.filter(lead_id__in=ids).count()
    counts["lead_merges"] = LeadMerge.objects.filter(
        Q(survivor_id__in=ids) | Q(duplicate_id__in=ids)
    ).delete()[0]
    counts["admin_log_entries"] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead),
        object_id__in=[str(pk) for pk in ids],
    ).delete()[0]
    # All their events in one statement, before the leads: the event tallies of scoring are
    # then counted again once, for all of them (two statements could meet a merge's in the
    # other order and deadlock).
    events.delete()
    # Merged-away leads point at their survivor (on_delete PROTECT): they go first.
    merged_away = [one.pk for one in leads if one.merged_into_id is not None]
    Lead.objects.filter(pk__in=merged_away).delete()
    Lead.objects.filter(pk__in=ids).delete()
    counts["leads"] = len(ids) - len(merged_away)
    counts["merged_leads"] = len(merged_away)

    counts |= _erase_import_leftovers(traces.addresses, out=out)
    counts["idempotency_keys"] = _erase_stored_answers(traces.addresses)
    counts["score_previews"] = _erase_preview_examples(set(ids))
    counts["outbox_messages"] = _erase_outbox_messages(ids)
    counts |= _erase_funnel_rows(ids)

    SuppressedAddress.objects.bulk_create(
        [SuppressedAddress(address_hash=address_hash(one)) for one in sorted(traces.addresses)],
        ignore_conflicts=True,
    )
    counts["suppressed_addresses"] = len(traces.addresses)
    return SubjectRequest.objects.create(
        kind=RequestKind.ERASURE,
        actor=actor,
        channel=channel,
        reason=traces.scrub(reason or "")[:2000],
        counts=counts,
    )


def _holding_any(queryset, field: str, addresses: Iterable[str]):
    """Rows whose `field`, read as text, contains one of the addresses (any case)."""
    wanted = Q()
    for address in addresses:
        wanted |= Q(_as_text__icontains=address)
    if not wanted:
        return queryset.none()
    return queryset.annotate(_as_text=Cast(field, TextField())).filter(wanted)


def _refused_import_rows(addresses: Iterable[str]):
    """The refused import rows holding one of the addresses: exported, then erased."""
    return ImportRowError.objects.annotate(address=Lower(Trim("email"))).filter(
        address__in=list(addresses)
    )


def _import_jobs_previewing(addresses: Iterable[str], *, lock: bool = False):
    """Import jobs whose dry-run result may name one of the addresses (see _is_theirs)."""
    jobs = ImportJob.objects.select_for_update() if lock else ImportJob.objects.all()
    return _holding_any(jobs, "preview", addresses)


def _is_theirs(entry: Any, addresses: frozenset[str]) -> bool:
    """Whether a dry-run result entry is about one of the addresses."""
    return isinstance(entry, dict) and normalise_email(str(entry.get("email", ""))) in addresses


def _erase_import_leftovers(addresses: frozenset[str], *, out: list) -> dict[str, int]:
    counts = {"import_row_errors": _refused_import_rows(addresses).delete()[0]}

    previews = 0
    for job in _import_jobs_previewing(addresses, lock=True):
        errors = job.preview.get("errors") or []
        kept = [error for error in errors if not _is_theirs(error, addresses)]
        previews += len(errors) - len(kept)
        job.preview = {**job.preview, "errors": kept}
        job.save(update_fields=["preview"])
    counts["import_preview_rows"] = previews

    file_rows = 0
    # Every stored file is read: the address may be in a file whose import refused it or
    # never ran. Not locked up front: only a job whose file changes gets written (and so
    # locked), and a running import's progress updates are not held up by the others.
    for job in ImportJob.objects.exclude(file="").order_by("pk"):
        blanked = _blank_rows_in_file(job, addresses, out=out)
        file_rows += blanked
    counts["import_file_rows"] = file_rows
    return counts


def _blank_rows_in_file(job: ImportJob, addresses: frozenset[str], *, out: list) -> int:
    """Write a copy of the job's file with every row holding one of the addresses blanked,
    next to it; `out` collects (copy, original) for swapping after commit."""
    try:
        path = default_storage.path(job.file.name)
    except NotImplementedError as error:  # pragma: no cover - we store files on disk
        raise RuntimeError("erasure rewrites import files on local disk only") from error
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as original:
        content = original.read()
    lowered = content.lower()
    if not any(address.encode() in lowered for address in addresses):
        return 0
    text = content.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter)
    out_text = io.StringIO()
    writer = csv.writer(out_text, delimiter=job.delimiter, lineterminator="\r\n")
    blanked = 0
    for number, cells in enumerate(reader):
        if number > 0 and any(address in cell.lower() for cell in cells for address in addresses):
            cells = [""] * len(cells)
            blanked += 1
        writer.writerow(cells)
    handle, copy = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".erasing")
    with os.fdopen(handle, "wb") as written:
        written.write(out_text.getvalue().encode("utf-8"))
    out.append((copy, path))
    job.file_size = os.path.getsize(copy)
    job.save(update_fields=["file_size"])
    return blanked


def _swap_files(rewritten: list[tuple[str, str]]) -> None:
    # A rename within one folder is atomic: a reader sees the old file or the new one.
    for copy, path in rewritten:
        os.replace(copy, path)


def _discard_files(rewritten: list[tuple[str, str]]) -> None:
    for copy, _path in rewritten:
        with contextlib.suppress(FileNotFoundError):
            os.remove(copy)


def _erase_stored_answers(addresses: frozenset[str]) -> int:
    return _holding_any(IdempotencyKey.objects.all(), "response_body", addresses).delete()[0]


def _without_examples(value: Any, ids: set[int]) -> tuple[Any, int]:
    """`value` with every {"lead_id": <one of ids>, ...} dropped from its lists."""
    if isinstance(value, list):
        kept, dropped = [], 0
        for item in value:
            if isinstance(item, dict) and item.get("lead_id") in ids:
                dropped += 1
                continue
            item, inner = _without_examples(item, ids)
            kept.append(item)
            dropped += inner
        return kept, dropped
    if isinstance(value, dict):
        result, dropped = {}, 0
        for key, item in value.items():
            result[key], inner = _without_examples(item, ids)
            dropped += inner
        return result, dropped
    return value, 0


def _erase_preview_examples(ids: set[int]) -> int:
    dropped = 0
    for preview in ImpactPreview.objects.select_for_update().exclude(result=None):
        result, removed = _without_examples(preview.result, ids)
        if removed:
            preview.result = result
            preview.save(update_fields=["result"])
            dropped += removed
    return dropped


def _erase_outbox_messages(ids: list[int]) -> int:
    """Delete the double opt-in requests of the leads: their arguments hold the consent
    evidence. Published ones too: the relay keeps those for a while."""
    return (
        OutboxMessage.objects.filter(task=CONFIRMATION_TASK)
        .annotate(_subject=KeyTextTransform("0", "args"))
        .filter(_subject__in=[str(pk) for pk in ids])
        .delete()[0]
    )


def _erase_funnel_rows(ids: list[int]) -> dict[str, int]:
    """The funnel read model's rows of the leads, taken out of its counts (funnel.metrics)."""
    if not apps.is_installed("funnel"):
        return {}
    # Imported here: the funnel is an optional reader of leads, not something privacy needs.
    from funnel.metrics import forget_leads

    return forget_leads(ids)
