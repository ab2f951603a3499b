from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class Stage(models.TextChoices):
    """Lifecycle stages, from first contact to outcome (see DOMAIN.md)."""

    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    MQL = "mql", _("Marketing qualified")
    SQL = "sql", _("Sales qualified")
    OPPORTUNITY = "opportunity", _("Opportunity")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    NURTURE = "nurture", _("Nurture")
    DISQUALIFIED = "disqualified", _("Disqualified")


FUNNEL_STAGES = [Stage.CONTACT, Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON]


class Seniority(models.TextChoices):
    EXECUTIVE = "executive", _("Executive / owner")
    DIRECTOR = "director", _("Director / VP")
    MANAGER = "manager", _("Manager")
    SPECIALIST = "specialist", _("Specialist")
    STUDENT = "student", _("Student")
    OTHER = "other", _("Other")


class Timeframe(models.TextChoices):
    NOW = "now", _("Within a month")
    QUARTER = "quarter", _("Within three months")
    HALF_YEAR = "half_year", _("Within six months")
    YEAR = "year", _("Within a year")
    NONE = "none", _("No plans")


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")
    EVENT = "event", _("Event or fair")
    REFERRAL = "referral", _("Referral")
    GIVEAWAY = "giveaway", _("Giveaway or lottery")


class LeadQuerySet(models.QuerySet):
    def active(self) -> "LeadQuerySet":
        """Leads that are not merged into another lead."""
        return self.filter(merged_into__isnull=True)

    def in_stage(self, *stages: str) -> "LeadQuerySet":
        return self.filter(stage__in=stages)

    def owned_by(self, user) -> "LeadQuerySet":
        return self.filter(owner=user)

    def reached_by(self, emails) -> "LeadQuerySet":
        """Leads, active or merged away, holding one of these addresses. `reaches_id` and
        `reaches_email` name the lead a capture of that address updates: the lead itself, or
        for a merged-away one its survivor (merging re-points older merges at the newest
        survivor, so one hop is enough)."""
        return self.filter(email__in=emails).annotate(
            reaches_id=Coalesce("merged_into_id", "id"),
            reaches_email=Coalesce("merged_into__email", "email"),
        )

    def holding_address(self, email: str, *, besides: "Lead") -> "LeadQuerySet":
        """Other people's leads with this address: active ones, and merged-away ones (their
        address now reaches their survivor). Leads merged into `besides` are the same
        person, so they do not count."""
        return self.filter(email=email).exclude(pk=besides.pk).exclude(merged_into=besides)


class Lead(models.Model):
    """A person in the database, from first contact to outcome.

    One active lead per normalised e-mail address: capture updates it instead of adding rows.
    Stage and scores are written only by the scoring app's services.
    """

    email = models.EmailField(_("e-mail address"), max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    company = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    seniority = models.CharField(_("seniority"), max_length=16, choices=Seniority, blank=True)
    is_decision_maker = models.BooleanField(_("decision maker"), default=False)
    company_size = models.PositiveIntegerField(_("company size (employees)"), null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    country = CountryField(_("country"), blank=True)
    budget = models.DecimalField(
        _("budget"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    need = models.TextField(_("need / pain"), blank=True, max_length=5000)
    timeframe = models.CharField(_("timeframe"), max_length=16, choices=Timeframe, blank=True)

    source = models.CharField(_("source channel"), max_length=16, choices=Source, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=200, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=200, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=200, blank=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
        # lead_owner_stage (owner, stage) serves owner lookups; one index less to write on
        # every capture and re-score.
        db_index=False,
    )
    # Database defaults too: capture's raw INSERT leaves these to the database.
    stage = models.CharField(
        _("stage"), max_length=16, choices=Stage, default=Stage.CONTACT, db_default=Stage.CONTACT
    )
    score = models.IntegerField(_("score"), default=0, db_default=0)
    fit_score = models.IntegerField(_("fit score"), default=0, db_default=0)
    engagement_score = models.IntegerField(_("engagement score"), default=0, db_default=0)
    # Written by scoring/, with the version and points per criterion in scoring.LeadScore:
    # the buying stage its engagement signals point to.
    buying_stage = models.CharField(
        _("buying stage"), max_length=16, blank=True, default="", db_default=""
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_leads",
    )

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(merged_into__isnull=True),
                name="lead_one_active_per_email",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "-score", "-id"], name="lead_stage_score"),
            models.Index(fields=["-score", "-id"], name="lead_score"),
            models.Index(fields=["-created_at", "-id"], name="lead_created"),
            models.Index(fields=["owner", "stage"], name="lead_owner_stage"),
            models.Index(fields=["source", "campaign"], name="lead_source_campaign"),
            models.Index(fields=["-last_activity_at", "-id"], name="lead_last_activity"),
            # Every lookup by address, merged-away leads included (capture finds their
            # survivor, imports and the demo loader check which addresses exist): the unique
            # index covers active leads only, and without this one those lookups scan the table.
            models.Index(fields=["email"], name="lead_email"),
        ]
        permissions = [
            ("export_leads", _("Can export leads")),
            ("merge_leads", _("Can merge leads")),
            ("assign_leads", _("Can assign leads to owners")),
            ("work_sales_queue", _("Can work the sales queue")),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class EventType(models.TextChoices):
    # How the lead came in when it was not a form on our site: an import, an API call, a
    # person typing it in. Recorded for the timeline; it is not engagement.
    CAPTURE = "capture", _("Captured")
    PAGE_VIEW = "page_view", _("Page view")
    FORM_SUBMISSION = "form_submission", _("Form submission")
    CONSULTATION_REQUEST = "consultation_request", _("Consultation request")
    QUOTE_REQUEST = "quote_request", _("Quote request")
    EMAIL_OPEN = "email_open", _("E-mail opened")
    EMAIL_CLICK = "email_click", _("E-mail link clicked")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")


class EventQuerySet(models.QuerySet):
    def for_timeline(self) -> "EventQuerySet":
        return self.order_by("-occurred_at", "-id")


class Event(models.Model):
    """Something a lead did or that happened with them: the engagement that scoring reads."""

    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,  # event_lead_time (lead, -occurred_at) serves lookups by lead
    )
    type = models.CharField(_("type"), max_length=32, choices=EventType)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="event_lead_time"),
            models.Index(fields=["type", "occurred_at"], name="event_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.occurred_at:%Y-%m-%d}"


class OwnerChange(models.Model):
    """Append-only record of a lead changing owner: who gave it to whom, and why."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="owner_changes"
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previous owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("new owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("owner change")
        verbose_name_plural = _("owner changes")
        indexes = [models.Index(fields=["lead", "-changed_at"], name="ownerchange_lead_time")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_owner_id} -> {self.to_owner_id}"


class LeadMerge(models.Model):
    """Append-only record of two leads becoming one: who merged which into which, and what the
    duplicate looked like at that moment."""

    survivor = models.ForeignKey(
        Lead, verbose_name=_("survivor"), on_delete=models.CASCADE, related_name="merges"
    )
    duplicate = models.ForeignKey(
        Lead, verbose_name=_("duplicate"), on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    duplicate_snapshot = models.JSONField(_("duplicate as it was"), default=dict)
    moved = models.JSONField(_("rows moved"), default=dict)
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lead merge")
        verbose_name_plural = _("lead merges")

    def __str__(self) -> str:
        return f"{self.duplicate_id} -> {self.survivor_id}"
