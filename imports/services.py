"""Use cases of CSV imports: upload, choose a mapping, check (dry run), import.

Leads are written only by `leads.services.capture.capture_leads`, in batches. The import
counts its progress in the same transaction as each batch, so a worker that dies resumes
after the last committed batch and never writes a row twice.
"""

from __future__ import annotations

import enum
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import ConsentMethod, Purpose
from consent.services import UnknownPurpose, active_purpose_keys
from imports.mapping import (
    IGNORE,
    PurposeNames,
    RowInput,
    header_set_key,
    row_input,
    suggest_mapping,
    valid_targets,
)
from imports.models import HeaderMapping, ImportJob, ImportRowError, ImportStatus
from imports.parsing import CsvInspection, batched, iter_rows
from leads.models import EventType, Lead, Source
from leads.services.capture import CaptureContext, CaptureRow, capture_leads
from leads.validation import validate_lead_data
from outbox.services import request_task

logger = logging.getLogger(__name__)

# Rows per capture_leads call: one statement and one commit each. Larger batches save round
# trips but hold locks longer and lose more work to a crash; 2,000 rows take about a second.
BATCH_SIZE = 2_000
PREVIEW_ERRORS_SHOWN = 100
# A file of garbage must not fill the database with its errors; the counters stay exact.
ROW_ERRORS_KEPT = 1_000
PREVIEW_TASK = "imports.tasks.preview_import_task"
RUN_TASK = "imports.tasks.run_import_task"


class ImportStateError(Exception):
    """The import is not in a state that allows this step; the message says why."""


class RunOutcome(enum.Enum):
    DONE = "done"
    FAILED = "failed"
    # Another worker holds the job (a batch in progress, or a fresh heartbeat): try later.
    BUSY = "busy"
    # Nothing to do: not queued, already done, or failed.
    LEFT_ALONE = "left alone"
    # Another worker took the job over after this one looked dead; this one stops.
    TAKEN_OVER = "taken over"
    MISSING = "missing"


# --- Mapping -------------------------------------------------------------------------------


def importable_purposes() -> list[PurposeNames]:
    """The consent purposes a column may record: active ones with a notice text."""
    keys = active_purpose_keys()
    return [
        PurposeNames(purpose.key, (purpose.name_en, purpose.name_nl))
        for purpose in Purpose.objects.active().filter(key__in=keys).order_by("key")
    ]


def proposed_mapping(*, headers: Sequence[str]) -> list[str]:
    """The mapping chosen last time for these headers, or else a suggestion per column."""
    purposes = importable_purposes()
    suggested = suggest_mapping(headers, purposes)
    remembered = HeaderMapping.objects.filter(key=header_set_key(headers)).first()
    if remembered is None or len(remembered.mapping) != len(headers):
        return suggested
    # A purpose switched off since then is no longer a target.
    targets = valid_targets(purpose.key for purpose in purposes)
    return [target if target in targets else IGNORE for target in remembered.mapping]


def remember_mapping(*, headers: Sequence[str], mapping: Sequence[str], user=None) -> None:
    """Offer `mapping` again for the next file with these headers."""
    HeaderMapping.objects.update_or_create(
        key=header_set_key(headers),
        defaults={"headers": list(headers), "mapping": list(mapping), "updated_by": user},
    )


# --- Upload, mapping, start ----------------------------------------------------------------


def create_import_job(*, upload: File, inspection: CsvInspection, user=None) -> ImportJob:
    """Store an inspected upload under MEDIA_ROOT/imports/ and open an import for it."""
    job = ImportJob(
        file_name=Path(upload.name or "import.csv").name[:255],
        file_size=upload.size or 0,
        delimiter=inspection.delimiter,
        headers=inspection.headers,
        total_rows=inspection.rows,
        created_by=user,
    )
    job.file.save("import.csv", upload, save=False)
    job.save()
    return job


def sample_values(*, job: ImportJob, rows: int = 3) -> list[list[str]]:
    """The first values of each column, to recognise what a column holds."""
    try:
        with job.file.open("rb") as binary:
            sample = [
                cells
                for _number, cells in itertools.islice(
                    iter_rows(binary, delimiter=job.delimiter), rows
                )
            ]
    except (OSError, ValueError):
        return []
    return [
        [cells[index].strip() for cells in sample if index < len(cells) and cells[index].strip()]
        for index in range(len(job.headers))
    ]


def _locked(job: ImportJob) -> ImportJob:
    return ImportJob.objects.select_for_update().get(pk=job.pk)


@transaction.atomic
def choose_mapping(*, job: ImportJob, mapping: Sequence[str], user=None) -> ImportJob:
    """Save the mapping, remember it for these headers, and ask for a dry run with it."""
    job = _locked(job)
    if not job.can_change_mapping:
        raise ImportStateError(_("The columns of this import can no longer be changed."))
    job.mapping = list(mapping)
    job.status = ImportStatus.PREVIEWING
    job.preview = {}
    job.checked_rows = 0
    job.error = ""
    job.save(update_fields=["mapping", "status", "preview", "checked_rows", "error"])
    remember_mapping(headers=job.headers, mapping=mapping, user=user)
    # Through the outbox: the request commits with the status, and a page never waits on the
    # broker. A second mapping before the first check ran shares its pending request.
    request_task(PREVIEW_TASK, job.pk, dedupe_key=f"import-preview:{job.pk}")
    return job


@transaction.atomic
def start_import(*, job: ImportJob) -> ImportJob:
    """Queue a checked import, or resume one that failed or whose worker died."""
    job = _locked(job)
    stalled = job.status == ImportStatus.RUNNING and job.is_stale()
    if not (job.can_start or stalled):
        raise ImportStateError(_("This import cannot be started now."))
    job.status = ImportStatus.QUEUED
    job.error = ""
    job.save(update_fields=["status", "error"])
    request_task(RUN_TASK, job.pk, dedupe_key=f"import:{job.pk}")
    return job


# --- Dry run -------------------------------------------------------------------------------


@dataclass
class DryRun:
    """What importing would do, found without writing anything."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    create: int = 0
    update: int = 0
    duplicates: int = 0  # rows whose address came earlier in the file; they update that lead
    errors: list[dict] = field(default_factory=list)  # the first PREVIEW_ERRORS_SHOWN

    def as_json(self) -> dict:
        return asdict(self)


def _check(row: RowInput, known_purposes: set[str]) -> tuple[dict, dict[str, list[str]]]:
    """Validate as capture_leads will: the lead data, and the purposes consent is given for."""
    cleaned, errors = validate_lead_data(row.data)
    errors = {**row.errors, **errors}
    unknown = {choice.purpose_key for choice in row.consents} - known_purposes
    if unknown:
        errors.setdefault("consents", []).append(str(UnknownPurpose(unknown)))
    return cleaned, errors


def _addresses_in_use(emails: set[str]) -> dict[str, str]:
    """For each address that a lead has: the address of the lead a capture would update.

    An address of a merged-away lead goes to the lead it was merged into, as capture does.
    """
    found: dict[str, str] = {}
    for chunk in batched(sorted(emails), BATCH_SIZE):
        for email, reaches, merged in Lead.objects.reached_by(chunk).values_list(
            "email", "reaches_email", "merged_into"
        ):
            if merged:
                found[email] = reaches
            else:
                found.setdefault(email, reaches)
    return found


def dry_run(
    *,
    rows: Iterable[tuple[int, list[str]]],
    mapping: Sequence[str],
    on_progress: Callable[[int], None] | None = None,
) -> DryRun:
    """Validate every row and tell new leads from updates, writing nothing."""
    result = DryRun()
    known_purposes = active_purpose_keys()
    seen: set[str] = set()
    for batch in batched(rows, BATCH_SIZE):
        emails: list[str] = []
        for number, cells in batch:
            row = row_input(cells, mapping)
            cleaned, errors = _check(row, known_purposes)
            if errors:
                result.invalid += 1
                if len(result.errors) < PREVIEW_ERRORS_SHOWN:
                    result.errors.append(
                        {"row": number, "email": row.data.get("email", ""), "errors": errors}
                    )
                continue
            emails.append(cleaned["email"])
        existing = _addresses_in_use(set(emails) - seen)
        for email in emails:
            address = existing.get(email, email)
            if address in seen:
                result.duplicates += 1
                result.update += 1
            elif email in existing:
                result.update += 1
            else:
                result.create += 1
            seen.add(address)
        result.valid += len(emails)
        result.rows += len(batch)
        if on_progress:
            on_progress(result.rows)
    return result


def preview_import(*, job_id: int) -> ImportJob | None:
    """Run the dry run of an import waiting for one, and keep what it found."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PREVIEWING).first()
    if job is None:
        return None
    mapping = list(job.mapping)

    def progress(rows: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(checked_rows=rows)

    try:
        with job.file.open("rb") as binary:
            result = dry_run(
                rows=iter_rows(binary, delimiter=job.delimiter),
                mapping=mapping,
                on_progress=progress,
            )
    except (OSError, ValueError) as error:
        logger.exception("import %s: dry run failed", job_id)
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.PREVIEWING).update(
            status=ImportStatus.FAILED, error=_("The file could not be read: %s") % error
        )
        return None
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        # Someone chose another mapping meanwhile: the check of that mapping will report.
        if job.status != ImportStatus.PREVIEWING or job.mapping != mapping:
            return job
        job.preview = result.as_json()
        job.checked_rows = result.rows
        job.status = ImportStatus.PREVIEWED
        job.save(update_fields=["preview", "checked_rows", "status"])
    return job


# --- The import ----------------------------------------------------------------------------


def import_context(*, job: ImportJob) -> CaptureContext:
    """How an import's rows are captured: the channel, and the evidence for their consent."""
    return CaptureContext(
        channel=Source.IMPORT,
        event_type=EventType.CAPTURE,
        consent_method=ConsentMethod.IMPORT,
        consent_source=job.file_name,
        actor=job.created_by,
        evidence=f"import:{job.pk}",
    )


def run_import(
    *,
    job_id: int,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunOutcome:
    """Import a queued job's rows through capture_leads, from where it got to.

    Safe to call twice, or from two workers at once: the job is claimed under a row lock
    and every batch checks the claim again under that lock before it writes.
    """
    token = uuid.uuid4().hex
    claimed = _claim(job_id, token)
    if isinstance(claimed, RunOutcome):
        return claimed
    job = claimed
    context = import_context(job=job)
    try:
        with job.file.open("rb") as binary:
            # Rows before done_rows were imported by a worker that stopped: skip them.
            rows = itertools.islice(iter_rows(binary, delimiter=job.delimiter), job.done_rows, None)
            for batch in batched(rows, batch_size):
                done = _import_batch(job_id, token, batch, job.mapping, context)
                if done is None:
                    return RunOutcome.TAKEN_OVER
                if on_progress:
                    on_progress(done, job.total_rows)
    except SoftTimeLimitExceeded:
        # Out of time, not broken: hand the job back so the retry resumes it.
        ImportJob.objects.filter(pk=job_id, runner=token).update(
            status=ImportStatus.QUEUED, runner=""
        )
        raise
    except Exception as error:
        logger.exception("import %s failed", job_id)
        ImportJob.objects.filter(pk=job_id, runner=token).update(
            status=ImportStatus.FAILED,
            runner="",
            error=_("The import stopped: %s") % error,
        )
        return RunOutcome.FAILED
    _finish(job_id, token)
    return RunOutcome.DONE


def _claim(job_id: int, token: str) -> ImportJob | RunOutcome:
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a worker in the middle of a batch holds the row; do not queue behind it.
        job = ImportJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None:
            exists = ImportJob.objects.filter(pk=job_id).exists()
            return RunOutcome.BUSY if exists else RunOutcome.MISSING
        if job.status == ImportStatus.RUNNING and not job.is_stale(now):
            return RunOutcome.BUSY
        if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
            return RunOutcome.LEFT_ALONE
        job.status = ImportStatus.RUNNING
        job.runner = token
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.error = ""
        job.save(update_fields=["status", "runner", "heartbeat_at", "started_at", "error"])
    return job


def _import_batch(
    job_id: int,
    token: str,
    batch: list[tuple[int, list[str]]],
    mapping: Sequence[str],
    context: CaptureContext,
) -> int | None:
    """Capture one batch and count it, in one transaction. Returns the rows done so far, or
    None when the job is no longer this worker's (then nothing is written)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.runner != token or job.status != ImportStatus.RUNNING:
            return None
        inputs: list[tuple[int, RowInput]] = []
        rejected: dict[int, tuple[str, dict]] = {}
        known_purposes: set[str] | None = None
        for number, cells in batch:
            row = row_input(cells, mapping)
            if row.errors:
                if known_purposes is None:
                    known_purposes = active_purpose_keys()
                rejected[number] = (row.data.get("email", ""), _check(row, known_purposes)[1])
            else:
                inputs.append((number, row))
        captured = capture_leads(
            rows=[
                CaptureRow(
                    data=row.data,
                    consents=row.consents,
                    event_properties={"import": job_id, "row": number},
                )
                for number, row in inputs
            ],
            context=context,
        )
        for index, errors in captured.errors.items():
            number, row = inputs[index]
            rejected[number] = (row.data.get("email", ""), errors)
        results = [result for result in captured.results if result is not None]
        created = sum(1 for result in results if result.created)
        room = max(0, ROW_ERRORS_KEPT - job.rejected_count)
        ImportRowError.objects.bulk_create(
            ImportRowError(job_id=job_id, row_number=number, email=email[:254], errors=errors)
            for number, (email, errors) in sorted(rejected.items())[:room]
        )
        ImportJob.objects.filter(pk=job_id).update(
            done_rows=F("done_rows") + len(batch),
            created_count=F("created_count") + created,
            updated_count=F("updated_count") + len(results) - created,
            rejected_count=F("rejected_count") + len(rejected),
            heartbeat_at=timezone.now(),
        )
    return job.done_rows + len(batch)


def _finish(job_id: int, token: str) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.runner != token:
            return
        stored = job.file.name
        job.status = ImportStatus.DONE
        job.finished_at = timezone.now()
        job.runner = ""
        # The upload holds personal data of every row; once imported, the leads and the
        # refused rows are the record, so the file is not kept.
        job.file = ""
        job.save(update_fields=["status", "finished_at", "runner", "file"])
        if stored:
            storage = job.file.storage
            transaction.on_commit(lambda: storage.delete(stored))


def import_now(
    *,
    job: ImportJob,
    mapping: Sequence[str],
    user=None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportJob:
    """Import an uploaded job in this process with `mapping`, without a separate check:
    for `manage.py import_leads` and the benchmark."""
    with transaction.atomic():
        job = _locked(job)
        if not job.can_change_mapping:
            raise ImportStateError(_("This import cannot be started now."))
        job.mapping = list(mapping)
        job.status = ImportStatus.QUEUED
        job.save(update_fields=["mapping", "status"])
        remember_mapping(headers=job.headers, mapping=mapping, user=user)
    run_import(job_id=job.pk, on_progress=on_progress)
    job.refresh_from_db()
    return job
