"""Web forms that visitors fill in on a hosted page or an embedded iframe.

A form only describes what to ask; the lead itself comes in through `capture_lead`. Blocked
submissions leave a log row without any of the submitted data, and the rate limit keeps its
counters in the database so capture never depends on Redis.
"""

import re
from urllib.parse import urlsplit

from csp.constants import SELF
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from consent.models import Purpose

# Lead fields a visitor may fill in. Source, campaign and UTM values come from the form's
# settings, never from the visitor; the e-mail address is always asked.
VISITOR_FIELDS = [
    "first_name", "last_name", "phone", "company", "job_title", "seniority", "company_size",
    "industry", "country", "budget", "need", "timeframe",
]  # fmt: skip


_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def normalise_origin(value: str) -> str:
    """`https://www.example.nl` as a browser sends it in the Origin header; ValueError if it
    is anything else. Strict, because the value ends up in a Content-Security-Policy."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as error:
        raise ValueError(value) from error
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or not _HOST.match(host)
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ValueError(value)
    return f"https://{host}" + (f":{port}" if port and port != 443 else "")


class WebFormQuerySet(models.QuerySet):
    def active(self) -> "WebFormQuerySet":
        return self.filter(is_active=True)


class WebForm(models.Model):
    """A form an admin defines in the browser: which fields and consents it asks, and what
    happens after sending."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("address"),
        max_length=80,
        unique=True,
        help_text=_("The form is published at /f/<address>/."),
    )
    lead_fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_("Lead fields shown besides the e-mail address, which is always asked."),
    )
    required_lead_fields = models.JSONField(_("required fields"), default=list, blank=True)
    purposes = models.ManyToManyField(
        Purpose,
        verbose_name=_("consent purposes asked"),
        blank=True,
        related_name="web_forms",
    )
    required_purposes = models.ManyToManyField(
        Purpose,
        verbose_name=_("consent purposes required"),
        blank=True,
        related_name="web_forms_requiring",
        help_text=_("The form cannot be sent without ticking these."),
    )
    thank_you_en = models.TextField(_("thank-you text (English)"), blank=True)
    thank_you_nl = models.TextField(_("thank-you text (Dutch)"), blank=True)
    redirect_url = models.URLField(
        _("redirect to"),
        max_length=500,
        blank=True,
        help_text=_("After sending, go to this address instead of the thank-you text."),
    )
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=200, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=200, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=200, blank=True)
    allowed_origins = models.JSONField(
        _("allowed origins"),
        default=list,
        blank=True,
        help_text=_("Websites (https://host) that may embed this form."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = WebFormQuerySet.as_manager()

    class Meta:
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")
        ordering = ["name", "id"]
        permissions = [("manage_webforms", _("Can create and edit web forms"))]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("webforms:public", kwargs={"slug": self.slug})

    @property
    def thank_you_text(self) -> str:
        text = self.thank_you_nl if translation.get_language() == "nl" else self.thank_you_en
        return text or self.thank_you_en or self.thank_you_nl

    @property
    def redirect_origin(self) -> str:
        return _origin(self.redirect_url) if self.redirect_url else ""

    def frame_ancestors(self) -> list[str]:
        """Who may show the embedded form in a frame: our own pages and the allowed sites."""
        # Checked again here, not only in the form: the value goes into a response header.
        return [SELF, *(origin for origin in self.allowed_origins if _is_origin(origin))]

    def accepts_post_from(self, origin: str, *, own_origin: str, embedded: bool) -> bool:
        """Whether a submission from `origin` (the Origin header, or the Referer's origin)
        may count. The hosted page posts from our own host; an embedded form may also post
        from a site it is embedded in."""
        if origin == own_origin:
            return True
        return embedded and origin in self.allowed_origins


def _is_origin(value: str) -> bool:
    try:
        return normalise_origin(value) == value
    except (ValueError, TypeError, AttributeError):
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


class BlockReason(models.TextChoices):
    HONEYPOT = "honeypot", _("Honeypot field filled in")
    TOO_FAST = "too_fast", _("Sent too fast after the form was shown")
    RATE_LIMITED = "rate_limited", _("Too many submissions")
    BAD_TOKEN = "bad_token", _("Missing, expired or tampered form token")
    ORIGIN = "origin", _("Sent from a site that is not allowed")


class BlockedSubmission(models.Model):
    """A submission taken for a bot's: the visitor saw the thank-you page, nothing was stored.
    Holds no submitted data, only what tells abuse apart."""

    web_form = models.ForeignKey(
        WebForm,
        verbose_name=_("web form"),
        on_delete=models.CASCADE,
        related_name="blocked_submissions",
    )
    reason = models.CharField(_("reason"), max_length=16, choices=BlockReason)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    blocked_at = models.DateTimeField(_("blocked at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("blocked submission")
        verbose_name_plural = _("blocked submissions")
        ordering = ["-blocked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.web_form_id} {self.reason} {self.blocked_at:%Y-%m-%d %H:%M}"


class RateLimitBucket(models.Model):
    """Submissions counted per key (a form, or a form and an address) in a fixed window.

    Counted in PostgreSQL, not Redis: a form must keep working with Redis down. One upsert
    increments and reads the count atomically (see `webforms.services.count_submission`).
    """

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_one_per_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%H:%M:%S}: {self.hits}"
