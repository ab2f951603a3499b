"""Processing purposes, their notice texts and the append-only consent records.

This app depends on nothing else of ours: a record names its data subject by the lead's id
(`subject_id`), so consent can be proven and withdrawn whatever happens to lead records.
"""

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")
    CONTRACT = "contract", _("Contract")


class PurposeQuerySet(models.QuerySet):
    def active(self) -> "PurposeQuerySet":
        return self.filter(is_active=True)

    def with_grantable(self) -> "PurposeQuerySet":
        """Annotates `grantable`: consent can be granted for an active purpose with a notice
        text, never for one nobody can be shown the wording of."""
        has_notice = Exists(NoticeVersion.objects.filter(purpose=OuterRef("pk")))
        return self.annotate(
            grantable=ExpressionWrapper(Q(is_active=True) & Q(has_notice), BooleanField())
        )

    def grantable(self) -> "PurposeQuerySet":
        return self.with_grantable().filter(grantable=True)


class Purpose(models.Model):
    """Why we process personal data, e.g. "marketing e-mail", with its legal basis."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_nl = models.CharField(_("name (Dutch)"), max_length=200)
    legal_basis = models.CharField(
        _("legal basis"), max_length=24, choices=LegalBasis, default=LegalBasis.CONSENT
    )
    is_marketing = models.BooleanField(
        _("direct marketing"),
        default=False,
        help_text=_("Leads without this consent are left out of marketing lists and exports."),
    )
    is_profiling = models.BooleanField(
        _("profiling"),
        default=False,
        help_text=_("Without this consent a lead's behaviour is not scored."),
    )
    requires_double_opt_in = models.BooleanField(_("requires double opt-in"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = PurposeQuerySet.as_manager()

    class Meta:
        verbose_name = _("processing purpose")
        verbose_name_plural = _("processing purposes")
        ordering = ["key"]
        permissions = [("manage_purposes", _("Can manage processing purposes and notices"))]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_nl if translation.get_language() == "nl" else self.name_en

    def current_notice(self) -> "NoticeVersion | None":
        return self.notices.order_by("-version").first()


class NoticeVersion(models.Model):
    """The exact wording shown when consent for a purpose was asked. Never edited: a new
    wording is a new version, so every consent record proves what the person read."""

    purpose = models.ForeignKey(
        Purpose, verbose_name=_("purpose"), on_delete=models.PROTECT, related_name="notices"
    )
    version = models.PositiveIntegerField(_("version"))
    text_en = models.TextField(_("notice (English)"))
    text_nl = models.TextField(_("notice (Dutch)"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("notice version")
        verbose_name_plural = _("notice versions")
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="notice_one_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.purpose.key} v{self.version}"

    @property
    def text(self) -> str:
        return self.text_nl if translation.get_language() == "nl" else self.text_en


class ConsentMethod(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    VERBAL = "verbal", _("Verbal, recorded by a user")
    DOUBLE_OPT_IN = "double_opt_in", _("Double opt-in confirmation")
    PREFERENCE_PAGE = "preference_page", _("Preference page")
    MANUAL = "manual", _("Manual entry")


class ConsentRecordQuerySet(models.QuerySet):
    def for_subject(self, subject_id: int) -> "ConsentRecordQuerySet":
        return self.filter(subject_id=subject_id)

    def current(self) -> "ConsentRecordQuerySet":
        """The records that are the current state of their subject and purpose: no later
        record of the same pair exists (records are append-only). Records written in one
        statement share `recorded_at`, so the id breaks the tie, as in consent_status().
        Used inside an EXISTS per lead, it probes the (subject_id, purpose, recorded_at)
        index; nothing counts or groups the whole table."""
        later = ConsentRecord.objects.filter(
            subject_id=OuterRef("subject_id"), purpose_id=OuterRef("purpose_id")
        ).filter(
            Q(recorded_at__gt=OuterRef("recorded_at"))
            | Q(recorded_at=OuterRef("recorded_at"), id__gt=OuterRef("id"))
        )
        return self.filter(~Exists(later))


class ConsentRecord(models.Model):
    """One grant or withdrawal. Append-only: the history is the proof."""

    # consent_latest (subject, purpose, -recorded_at) serves lookups by subject.
    subject_id = models.BigIntegerField(_("data subject (lead id)"))
    purpose = models.ForeignKey(
        Purpose, verbose_name=_("purpose"), on_delete=models.PROTECT, related_name="records"
    )
    granted = models.BooleanField(_("granted"))
    notice = models.ForeignKey(
        NoticeVersion,
        verbose_name=_("notice shown"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="records",
    )
    method = models.CharField(_("method"), max_length=20, choices=ConsentMethod)
    source = models.CharField(_("source"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    evidence = models.CharField(_("evidence reference"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [
            models.Index(fields=["subject_id", "purpose", "-recorded_at"], name="consent_latest"),
        ]
        constraints = [
            # A grant must say which wording was shown; a withdrawal needs none.
            models.CheckConstraint(
                condition=Q(granted=False) | Q(notice__isnull=False),
                name="consent_grant_names_notice",
            )
        ]
        permissions = [("record_consent", _("Can record a consent or withdrawal given in person"))]

    def __str__(self) -> str:
        action = "granted" if self.granted else "withdrawn"
        return f"{self.subject_id} {self.purpose_id} {action}"

    def save(self, *args, **kwargs):
        # Records are proof; changing one would forge it. Erasure (consent.services) is the
        # one path that rewrites them, with raw SQL under a documented legal duty.
        if self.pk is not None:
            raise ValueError("consent records are append-only")
        super().save(*args, **kwargs)


class ClosedReason(models.TextChoices):
    SUPERSEDED = "superseded", _("Superseded by a newer request")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")
    GRANTED = "granted", _("Granted another way")


class ConsentConfirmationQuerySet(models.QuerySet):
    def for_subject(self, subject_id: int) -> "ConsentConfirmationQuerySet":
        return self.filter(subject_id=subject_id)

    def open(self) -> "ConsentConfirmationQuerySet":
        """Neither confirmed nor closed; possibly past its expiry until the nightly run."""
        return self.filter(confirmed_at__isnull=True, closed_at__isnull=True)

    def pending(self, now=None) -> "ConsentConfirmationQuerySet":
        """Open and still confirmable: the purpose is "awaiting confirmation"."""
        return self.open().filter(expires_at__gt=now or timezone.now())


class ConsentConfirmation(models.Model):
    """A grant waiting for double opt-in: the person must follow the link in an e-mail.

    This is the state of a request, not proof, so it is updated as it goes (sent, confirmed,
    closed). The proof is the ConsentRecord the confirmation writes (method double opt-in,
    evidence "confirmation:<id>"), which names the notice shown with the original request.
    """

    subject_id = models.BigIntegerField(_("data subject (lead id)"))
    purpose = models.ForeignKey(
        Purpose, verbose_name=_("purpose"), on_delete=models.PROTECT, related_name="confirmations"
    )
    notice = models.ForeignKey(
        NoticeVersion,
        verbose_name=_("notice shown"),
        on_delete=models.PROTECT,
        related_name="confirmations",
    )
    # The original request, as it would have been recorded without double opt-in.
    method = models.CharField(_("method"), max_length=20, choices=ConsentMethod)
    source = models.CharField(_("source"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    evidence = models.CharField(_("evidence reference"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The e-mail goes out in the language the person used when asking.
    language = models.CharField(_("language"), max_length=10, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    expires_at = models.DateTimeField(_("expires at"))
    sent_at = models.DateTimeField(_("e-mail sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    record = models.ForeignKey(
        ConsentRecord,
        verbose_name=_("consent record written"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_reason = models.CharField(
        _("closed because"), max_length=12, choices=ClosedReason, blank=True
    )

    objects = ConsentConfirmationQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent confirmation")
        verbose_name_plural = _("consent confirmations")
        indexes = [
            models.Index(fields=["subject_id", "purpose", "-requested_at"], name="confirm_latest"),
            models.Index(
                fields=["expires_at"],
                condition=Q(confirmed_at__isnull=True, closed_at__isnull=True),
                name="confirm_open_expiry",
            ),
        ]
        constraints = [
            # One open request per person and purpose: a new one supersedes the old.
            models.UniqueConstraint(
                fields=["subject_id", "purpose"],
                condition=Q(confirmed_at__isnull=True, closed_at__isnull=True),
                name="confirm_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"confirmation {self.pk} of {self.subject_id} {self.purpose_id}"

    @property
    def is_open(self) -> bool:
        return self.confirmed_at is None and self.closed_at is None

    def is_expired(self, now=None) -> bool:
        if self.closed_reason == ClosedReason.EXPIRED:
            return True
        return self.is_open and self.expires_at <= (now or timezone.now())


class PurposeChange(models.Model):
    """A change to a purpose's names, legal basis or flags: who, when, from what to what.
    Append-only, like every history; notice texts have their own versions."""

    purpose = models.ForeignKey(
        Purpose, verbose_name=_("purpose"), on_delete=models.CASCADE, related_name="changes"
    )
    changes = models.JSONField(_("changes"), default=dict)  # field -> [before, after]
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed"), auto_now_add=True)

    class Meta:
        verbose_name = _("purpose change")
        verbose_name_plural = _("purpose changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.purpose_id} {sorted(self.changes)}"
