"""Data-subject requests: the suppression list of erased addresses, and the log of every
export and erasure (actor and time, never the person's data)."""

import hashlib
import hmac
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def address_hash(email: str) -> str:
    """The salted hash an erased address is remembered by: HMAC-SHA256 of the normalised
    address with `SUPPRESSION_SALT`, so the list cannot be read back into addresses."""
    normalised = email.strip().lower()
    key = settings.SUPPRESSION_SALT.encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


class SuppressedAddress(models.Model):
    """An address erased on request. Capture refuses it unless the person gives a new,
    explicit consent, which lifts the suppression."""

    address_hash = models.CharField(_("address hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("suppressed since"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")

    def __str__(self) -> str:
        return self.address_hash[:12]


class RequestKind(models.TextChoices):
    EXPORT = "export", _("Export (access / portability)")
    ERASURE = "erasure", _("Erasure")


class Channel(models.TextChoices):
    WEB = "web", _("Lead page")
    API = "api", _("API")
    COMMAND = "command", _("Command line")
    RETENTION = "retention", _("Retention policy")


# What the counts of a request are of, for people reading the log.
COUNT_LABELS = {
    "profile": _("lead records"),
    "leads": _("leads"),
    "merged_leads": _("leads merged into it"),
    "events": _("events"),
    "notes": _("notes"),
    "consents": _("consent records"),
    "consent_records": _("consent records"),
    "confirmations": _("double opt-in confirmations"),
    "consent_confirmations": _("double opt-in confirmations"),
    "stage_history": _("stage changes"),
    "stage_transitions": _("stage changes"),
    "score": _("score criteria"),
    "owner_changes": _("owner changes"),
    "merges": _("merges"),
    "lead_merges": _("merges"),
    "admin_log_entries": _("admin log entries"),
    "import_row_errors": _("refused import rows"),
    "import_preview_rows": _("import check results"),
    "import_file_rows": _("rows in import files"),
    "idempotency_keys": _("stored API answers"),
    "score_previews": _("examples in score previews"),
    "activities": _("logged contacts"),
    "tasks": _("tasks"),
    "outbox_messages": _("queued double opt-in requests"),
    "funnel_milestones": _("funnel dashboard rows"),
    "funnel_rejections": _("funnel rejection rows"),
    "suppressed_addresses": _("addresses suppressed"),
}


class SubjectRequestQuerySet(models.QuerySet):
    def newest_first(self) -> "SubjectRequestQuerySet":
        return self.order_by("-requested_at", "-id")

    def erasures(self) -> "SubjectRequestQuerySet":
        return self.filter(kind=RequestKind.ERASURE)


class SubjectRequest(models.Model):
    """Append-only log of one export or erasure: what was done, by whom, how and when.

    Holds no personal data of the person it was about, not even their address: a log that
    names an erased person would itself undo the erasure. The reference is what a reply to
    the person, or a ticket, can quote.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind)
    reference = models.UUIDField(_("reference"), default=uuid.uuid4, unique=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel)
    # Typed by a person, so scrubbed of the erased person's address, name and phone before
    # it is stored (see services.erase_subject).
    reason = models.TextField(_("reason"), blank=True, max_length=2000)
    # Rows per kind of data: exported, or removed.
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    requested_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = SubjectRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        indexes = [models.Index(fields=["-requested_at", "-id"], name="subjectrequest_recent")]
        permissions = [
            ("export_subject", _("Can export all data held on a person")),
            ("erase_subject", _("Can erase a person")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"

    def save(self, *args, **kwargs):
        # The log is the proof requests were honoured; it is written once.
        if self.pk is not None:
            raise ValueError("data-subject requests are append-only")
        super().save(*args, **kwargs)

    def count_lines(self) -> list[tuple[str, int]]:
        """(label, count) of every kind of data with rows, in the order they were counted."""
        return [
            (str(COUNT_LABELS.get(key, key)), value) for key, value in self.counts.items() if value
        ]

    @property
    def total(self) -> int:
        return sum(value for value in self.counts.values() if isinstance(value, int))
