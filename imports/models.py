"""CSV imports: the uploaded file, its column mapping, its progress and the rows it refused.

An import writes leads only through `leads.services.capture.capture_leads`; these models
record what was asked and how far it got, so a worker that dies can resume where it stopped.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

# A running import refreshes its heartbeat after every batch (a few seconds). One that has
# not done so for this long belongs to a worker that died, and another worker may take over.
STALE_AFTER = timedelta(minutes=2)


def _upload_path(_job: "ImportJob", _filename: str) -> str:
    # Never the uploaded name: it may hold personal data and characters no disk likes.
    return f"imports/{uuid.uuid4().hex}.csv"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    PREVIEWING = "previewing", _("Checking")
    PREVIEWED = "previewed", _("Checked")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


IN_PROGRESS = {ImportStatus.PREVIEWING, ImportStatus.QUEUED, ImportStatus.RUNNING}


class ImportJobQuerySet(models.QuerySet):
    def recent(self) -> "ImportJobQuerySet":
        return self.order_by("-created_at", "-id")


class ImportJob(models.Model):
    """One uploaded CSV file on its way in: uploaded, checked (dry run), imported."""

    file = models.FileField(_("file"), upload_to=_upload_path, max_length=200, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    delimiter = models.CharField(_("separator"), max_length=1, default=",")
    headers = models.JSONField(_("column headers"), default=list)
    # One target per column, in the order of `headers`: a lead field name,
    # "consent:<purpose key>", or "" to ignore the column.
    mapping = models.JSONField(_("column mapping"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus, default=ImportStatus.UPLOADED
    )

    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    # The dry run: how many rows are checked, and what it found (see services.DryRun).
    checked_rows = models.PositiveIntegerField(_("rows checked"), default=0)
    preview = models.JSONField(_("dry run result"), default=dict, blank=True)
    # The import itself. done_rows moves in the same transaction as the batch it counts.
    done_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("leads created"), default=0)
    updated_count = models.PositiveIntegerField(_("leads updated"), default=0)
    rejected_count = models.PositiveIntegerField(_("rows rejected"), default=0)

    # Which worker runs the import and when it last showed signs of life.
    runner = models.CharField(_("runner"), max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [models.Index(fields=["-created_at", "-id"], name="importjob_recent")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def is_checked(self) -> bool:
        return bool(self.preview)

    @property
    def can_change_mapping(self) -> bool:
        # Once rows are imported, another mapping would make one import of two halves.
        return self.done_rows == 0 and self.status in {
            ImportStatus.UPLOADED,
            ImportStatus.PREVIEWED,
            ImportStatus.FAILED,
        }

    @property
    def can_start(self) -> bool:
        """Checked and not running: start it, or resume it after a failure."""
        if not self.preview.get("valid") or not self.file:
            return False
        return self.status == ImportStatus.PREVIEWED or self.status == ImportStatus.FAILED

    def is_stale(self, now=None) -> bool:
        """True when the worker running this import stopped beating: it died."""
        now = now or timezone.now()
        return self.heartbeat_at is None or self.heartbeat_at < now - STALE_AFTER

    @property
    def progress_rows(self) -> int:
        return self.checked_rows if self.status == ImportStatus.PREVIEWING else self.done_rows

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, self.progress_rows * 100 // self.total_rows)

    @property
    def targets(self) -> dict[str, str]:
        """Mapped target -> the column header it comes from."""
        pairs = zip(self.headers, self.mapping, strict=False)
        return {target: header for header, target in pairs if target}

    def column_label(self, key: str) -> str:
        """The column a row error is about, named as the file names it."""
        if header := self.targets.get(key):
            return header
        if key == "row":
            return pgettext("CSV", "Row")
        if key == "consents":
            return gettext("Consent")
        return key


class ImportRowError(models.Model):
    """A row the import refused, with the messages per field. Kept for the first rows only
    (see services.ROW_ERRORS_KEPT): a file of garbage must not fill the database."""

    job = models.ForeignKey(
        ImportJob, verbose_name=_("import"), on_delete=models.CASCADE, related_name="row_errors"
    )
    row_number = models.PositiveIntegerField(_("row"))
    email = models.CharField(_("e-mail address as given"), max_length=254, blank=True)
    errors = models.JSONField(_("errors"), default=dict)

    class Meta:
        verbose_name = _("refused row")
        verbose_name_plural = _("refused rows")
        ordering = ["job", "row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="importrowerror_job_row")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}"


class HeaderMapping(models.Model):
    """The mapping last chosen for a set of column headers, offered again next time.

    Keyed by a hash of the normalised headers in order (see mapping.header_set_key), so the
    monthly export of the same system maps itself.
    """

    key = models.CharField(_("header set"), max_length=64, unique=True)
    headers = models.JSONField(_("column headers"), default=list)
    mapping = models.JSONField(_("column mapping"), default=list)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("chosen by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("chosen at"), auto_now=True)

    class Meta:
        verbose_name = _("remembered column mapping")
        verbose_name_plural = _("remembered column mappings")

    def __str__(self) -> str:
        return ", ".join(self.headers)[:100]
