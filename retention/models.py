"""Retention policies (how long personal data may be kept, and of whom) and the log of every
run that erased what had expired.

Which leads a policy selects is worked out in retention/services.py; a policy only says
what kind of lead it is about and for how many months.
"""

from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_MONTHS = 1200


class AppliesTo(models.TextChoices):
    CONTACTS = "contacts", _("Contacts that never became a lead")
    INACTIVE_WITHOUT_CONSENT = (
        "inactive_without_consent",
        _("Leads without activity and without any active consent"),
    )
    WITHDRAWN_PURPOSE = (
        "withdrawn_purpose",
        _("Leads that withdrew the one purpose they were kept for"),
    )


class RetentionPolicyQuerySet(models.QuerySet):
    def active(self) -> "RetentionPolicyQuerySet":
        return self.filter(is_active=True)


class RetentionPolicy(models.Model):
    """After how many months without activity a kind of lead is erased."""

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    applies_to = models.CharField(_("applies to"), max_length=32, choices=AppliesTo)
    purpose = models.ForeignKey(
        "consent.Purpose",
        verbose_name=_("withdrawn purpose"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retention_policies",
        help_text=_("Only for leads that withdrew a purpose: the purpose they withdrew."),
    )
    months = models.PositiveSmallIntegerField(
        _("months"),
        # A hundred years is more than any law asks, and keeps the date arithmetic in range.
        validators=[MinValueValidator(1), MaxValueValidator(MAX_MONTHS)],
        help_text=_("Erased after this many months without activity."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Only active policies are applied every night.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RetentionPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        ordering = ["months", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(months__gte=1, months__lte=MAX_MONTHS), name="retention_months_range"
            ),
            models.CheckConstraint(
                condition=~Q(applies_to="withdrawn_purpose") | Q(purpose__isnull=False),
                name="retention_withdrawn_names_purpose",
            ),
        ]
        permissions = [
            ("manage_retention", _("Can manage retention policies and erase expired data"))
        ]

    def __str__(self) -> str:
        return self.name

    def cutoff(self, now: datetime) -> datetime:
        """The moment before which activity is too old to keep the data: `months` calendar
        months before `now`, counted on the local calendar (31 March less one month is
        28 or 29 February)."""
        return timezone.localtime(now) - relativedelta(months=self.months)


class RetentionRunQuerySet(models.QuerySet):
    def unfinished(self) -> "RetentionRunQuerySet":
        return self.filter(finished_at__isnull=True)


class RetentionRun(models.Model):
    """One application of the retention policies: when, by whom (nobody for the nightly
    run), and per policy how many leads had expired and how many were erased. Append-only
    once finished; it holds counts, never anything about the people erased."""

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    limit = models.PositiveIntegerField(_("limit"), null=True, blank=True)
    # One entry per policy applied: {"policy": id, "name", "applies_to", "months",
    # "expired", "erased", "skipped", "failed"}. Names are copied: a policy can be renamed.
    counts = models.JSONField(_("counts per policy"), default=list, blank=True)
    erased = models.PositiveIntegerField(_("erased"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)

    objects = RetentionRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None
