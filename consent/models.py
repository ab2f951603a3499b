"""Processing purposes, their notice texts and the append-only consent records.

This app depends on nothing else of ours: a record names its data subject by the lead's id
(`subject_id`), so consent can be proven and withdrawn whatever happens to lead records.
"""

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import translation
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

    def __str__(self) -> str:
        action = "granted" if self.granted else "withdrawn"
        return f"{self.subject_id} {self.purpose_id} {action}"

    def save(self, *args, **kwargs):
        # Records are proof; changing one would forge it. Erasure (consent.services) is the
        # one path that rewrites them, with raw SQL under a documented legal duty.
        if self.pk is not None:
            raise ValueError("consent records are append-only")
        super().save(*args, **kwargs)
