from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Stage


class StageTransitionQuerySet(models.QuerySet):
    def for_lead(self, lead_id: int) -> "StageTransitionQuerySet":
        return self.filter(lead_id=lead_id).order_by("-occurred_at", "-id")


class StageTransition(models.Model):
    """An immutable record of one change of stage: from, to, who or which rule, why, when,
    and the score at that moment."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="transitions"
    )
    from_stage = models.CharField(_("from"), max_length=16, choices=Stage)
    to_stage = models.CharField(_("to"), max_length=16, choices=Stage)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True, max_length=2000)
    score = models.IntegerField(_("score at the time"))
    # The rules in force: the version whose policy moved it (no actor) or under which a
    # person moved it.
    criteria_version = models.ForeignKey(
        "scoring.CriteriaVersion",
        verbose_name=_("criteria version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # What the policy asked for with the move: {"bant": {...}} when sales accepted the lead,
    # {"offer": {"amount": "...", "expected_close_date": "..."}} for an opportunity.
    details = models.JSONField(_("details"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = StageTransitionQuerySet.as_manager()

    class Meta:
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="transition_lead_time"),
            models.Index(fields=["to_stage", "occurred_at"], name="transition_stage_time"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} -> {self.to_stage}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("stage transitions are immutable")
        super().save(*args, **kwargs)


class LeadScoreQuerySet(models.QuerySet):
    def for_lead(self, lead_id: int) -> "LeadScore | None":
        return self.filter(lead_id=lead_id).first()


class LeadScore(models.Model):
    """A lead's last scoring: the criteria version, the points each of its criteria gave (in
    the version's order; the explanation is read from them) and when.

    Kept apart from the lead's row: every full re-score rewrites this for every lead, and a
    narrow row with room on its page (fillfactor 50, migration 0009) is rewritten in place,
    while the lead's wide row has fourteen indexes to update. The lead's row holds what
    lists sort and filter on (score, subtotals, buying stage), written only when it changes.
    """

    lead = models.OneToOneField(
        Lead,
        verbose_name=_("lead"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="scoring",
    )
    version = models.PositiveIntegerField(_("scored with version"))
    points = models.JSONField(_("points per criterion"), default=list)
    scored_at = models.DateTimeField(_("scored"))

    objects = LeadScoreQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead score")
        verbose_name_plural = _("lead scores")

    def __str__(self) -> str:
        return f"{self.lead_id}: v{self.version}"


# --- Qualification criteria, versioned -----------------------------------------------------


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Active")
    RETIRED = "retired", _("Retired")


class CriteriaVersionQuerySet(models.QuerySet):
    def active(self) -> "CriteriaVersion | None":
        """The published version every lead is scored with; None before the first."""
        return self.filter(status=VersionStatus.PUBLISHED).first()

    def draft(self) -> "CriteriaVersion | None":
        return self.filter(status=VersionStatus.DRAFT).first()


class CriteriaVersion(models.Model):
    """One edition of what makes a contact a lead and a lead an MQL: its criteria, the stage
    policy and the written stage definitions. Edited as a draft, then published; a published
    version is never edited again, so every score and stage change can name the exact rules
    that caused it."""

    number = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=VersionStatus, default=VersionStatus.DRAFT
    )
    mql_threshold = models.IntegerField(
        _("MQL at score"),
        null=True,
        blank=True,
        help_text=_("A lead whose score reaches this becomes an MQL. Empty: no threshold."),
    )
    mql_criteria_needed = models.PositiveSmallIntegerField(
        _("MQL when this many named criteria are met"),
        null=True,
        blank=True,
        help_text=_(
            "The 'K of N' rule: a lead meeting this many of the criteria marked 'counts "
            "towards MQL' becomes an MQL, whatever its score. Empty: not used."
        ),
    )
    downgrade_on_decay = models.BooleanField(
        _("move back when the score fades"),
        default=False,
        help_text=_(
            "An MQL that no longer qualifies (engagement faded) goes back to lead, and a lead "
            "that no longer meets the lead definition back to contact."
        ),
    )
    note = models.TextField(_("what changed"), blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    changed_at = models.DateTimeField(_("changed"), auto_now=True)

    objects = CriteriaVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("criteria version")
        verbose_name_plural = _("criteria versions")
        ordering = ["-number"]
        permissions = [("manage_criteria", _("Can edit and publish qualification criteria"))]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status__in=["draft", "published"]),
                name="one_draft_and_one_active_version",
            )
        ]

    def __str__(self) -> str:
        return _("Version %(number)s") % {"number": self.number}

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class CriterionKind(models.TextChoices):
    LEAD_DEFINITION = "lead_definition", _("Lead definition")
    FIT = "fit", _("Fit")
    ENGAGEMENT = "engagement", _("Engagement")


class Operator(models.TextChoices):
    EQUALS = "equals", _("equals")
    IN_LIST = "in_list", _("is one of")
    CONTAINS = "contains", _("contains")
    MATCHES = "matches", _("matches the pattern")
    AT_LEAST = "gte", _("is at least")
    AT_MOST = "lte", _("is at most")
    IS_SET = "is_set", _("is filled in")
    EMAIL_DOMAIN_IN = "email_domain_in", _("has an e-mail domain among")
    EMAIL_DOMAIN_NOT_IN = "email_domain_not_in", _("has an e-mail domain not among")


class BuyingSignal(models.TextChoices):
    AWARENESS = "awareness", _("Awareness")
    CONSIDERATION = "consideration", _("Consideration")
    PURCHASE = "purchase", _("Purchase")


class Criterion(models.Model):
    """One rule of a criteria version.

    - Lead definition: a rule a contact must meet to count as a lead (no points).
    - Fit: a rule on the lead's own fields, e.g. "company size is at least 50: +10", or with
      negative points "e-mail domain among gmail.com, hotmail.com: -10".
    - Engagement: a rule on the lead's events, e.g. "page view with /pricing, 3 times within
      14 days: +20", once or per occurrence up to a cap, fading with a half-life.
    """

    version = models.ForeignKey(
        CriteriaVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="criteria",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=16, choices=CriterionKind)
    name = models.CharField(_("name"), max_length=100)
    points = models.IntegerField(_("points"), default=0)
    # Fit and lead definition
    field = models.CharField(_("field"), max_length=32, blank=True)
    operator = models.CharField(_("operator"), max_length=24, choices=Operator, blank=True)
    value = models.TextField(
        _("value"),
        blank=True,
        max_length=2000,
        help_text=_("For a list: one item per line or separated by commas."),
    )
    # Engagement
    event_type = models.CharField(_("event type"), max_length=32, blank=True)
    url_contains = models.CharField(_("URL contains"), max_length=200, blank=True)
    min_count = models.PositiveSmallIntegerField(_("at least this many times"), default=1)
    window_days = models.PositiveSmallIntegerField(
        _("within days"), null=True, blank=True, help_text=_("Empty: any time.")
    )
    per_occurrence = models.BooleanField(
        _("points per occurrence"),
        default=False,
        help_text=_("Off: the points once when the rule is met."),
    )
    cap = models.PositiveIntegerField(
        _("at most points"), null=True, blank=True, help_text=_("For points per occurrence.")
    )
    half_life_days = models.PositiveSmallIntegerField(
        _("half-life in days"),
        null=True,
        blank=True,
        help_text=_("Points halve every this many days after the event. Empty: they never fade."),
    )
    buying_signal = models.CharField(
        _("buying signal"), max_length=16, choices=BuyingSignal, blank=True
    )
    # Stage policy
    must_have = models.BooleanField(
        _("must have for MQL"), default=False, help_text=_("No MQL without this rule met.")
    )
    counts_towards_mql = models.BooleanField(
        _("counts towards MQL"),
        default=False,
        help_text=_("One of the named criteria of the 'K of N' rule."),
    )

    class Meta:
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        ordering = ["version", "position", "id"]

    def __str__(self) -> str:
        return self.name


class RejectionReason(models.TextChoices):
    """Why sales sends an MQL back (details["rejection"] of the move): reported to marketing
    per criterion and source, the loop that tells which criteria send unready leads."""

    NOT_READY = "not_ready", _("Not ready to buy yet")
    NO_BUDGET = "no_budget", _("No budget")
    NO_AUTHORITY = "no_authority", _("Not a decision maker")
    NO_NEED = "no_need", _("No need for what we sell")
    UNREACHABLE = "unreachable", _("Could not be reached")
    WRONG_DATA = "wrong_data", _("Wrong or fake contact details")
    COMPETITOR_OR_STUDENT = "not_a_buyer", _("Competitor, student or job seeker")
    OTHER = "other", _("Other")


class LossReason(models.TextChoices):
    """Why a deal was lost (details["loss"] of the move to lost)."""

    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Chose a competitor")
    NO_DECISION = "no_decision", _("No decision")
    TIMING = "timing", _("Timing")
    FIT = "fit", _("Product does not fit")
    OTHER = "other", _("Other")


class Team(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")


class StageDefinition(models.Model):
    """What a stage means in a version ("this is an MQL because ..."), which team owns it
    (and so may move leads into and out of it) and from when it applies."""

    version = models.ForeignKey(
        CriteriaVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="definitions",
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage)
    definition = models.TextField(_("definition"), blank=True, max_length=4000)
    owning_team = models.CharField(_("owning team"), max_length=16, choices=Team)
    effective_from = models.DateField(_("effective from"), null=True, blank=True)

    class Meta:
        verbose_name = _("stage definition")
        verbose_name_plural = _("stage definitions")
        constraints = [
            models.UniqueConstraint(fields=["version", "stage"], name="one_definition_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} ({self.version})"


class RescoreRun(models.Model):
    """A full re-score of every lead after publishing: progress for the admin's progress bar,
    and where to go on when a worker died half-way."""

    version = models.ForeignKey(
        CriteriaVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="runs"
    )
    total = models.PositiveIntegerField(_("leads"), default=0)
    done = models.PositiveIntegerField(_("scored"), default=0)
    moved = models.PositiveIntegerField(_("changed stage"), default=0)
    # Leads up to here are handed out; the ranges [low, high] being scored, and those a
    # worker that died left unfinished, scored again first by the next one.
    last_lead_id = models.BigIntegerField(default=0)
    in_flight = models.JSONField(default=list, blank=True)
    to_redo = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("re-score run")
        verbose_name_plural = _("re-score runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.version}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


class ImpactPreview(models.Model):
    """A draft's preview worked out in the background: with many leads it takes longer than
    a page may. Stale once the draft changed after it was asked for."""

    version = models.ForeignKey(
        CriteriaVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="previews",
    )
    requested_at = models.DateTimeField(_("asked for"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)

    class Meta:
        verbose_name = _("impact preview")
        verbose_name_plural = _("impact previews")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.version}: {self.requested_at:%Y-%m-%d %H:%M}"


class EventCounter(models.Model):
    """One kind of event tallied per lead as events arrive, so a full re-score reads one
    row per lead and kind instead of every raw event (scoring/counters.py keeps them).

    A kind is what an engagement criterion without a window counts: the event type ('' is
    every type but captures), the text its URL contains (lower-cased) and, for points per
    occurrence that fade, the half-life. Criteria of several versions share a kind.
    """

    event_type = models.CharField(_("event type"), max_length=32, blank=True)
    url_contains = models.CharField(_("URL contains"), max_length=200, blank=True)
    # 0: no faded sum kept (the criterion does not add up faded points).
    half_life_days = models.PositiveSmallIntegerField(_("half-life in days"), default=0)
    # Events up to this id were there before the database tallied this kind by itself; the
    # backfill counts them. NULL once it did.
    backfill_up_to = models.BigIntegerField(null=True, blank=True)
    # The backfill goes lead by lead in id order: leads up to this one are done.
    backfill_from_lead = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("event counter")
        verbose_name_plural = _("event counters")
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "url_contains", "half_life_days"], name="one_counter_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type or '*'} {self.url_contains} {self.half_life_days}"

    @property
    def is_ready(self) -> bool:
        return self.backfill_up_to is None


class LeadCounter(models.Model):
    """A lead's tally of one kind of event: how many, the newest, and the sum over them of
    0.5^((newest - occurred_at) / half-life), so the faded points at any later moment are
    one multiplication away. Written by database triggers on leads_event only."""

    pk = models.CompositePrimaryKey("lead_id", "counter")
    # A plain id, not a relation: merging leads moves the events, and the triggers move
    # their tallies; deleting a lead deletes its events, and with them these rows.
    lead_id = models.BigIntegerField()
    # No constraint: an event written while its kind is pruned may still add a tally for it,
    # which the next prune removes (scoring/counters.py); with one, that event would fail.
    counter = models.ForeignKey(
        EventCounter, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    count = models.BigIntegerField(default=0)
    newest = models.DateTimeField()
    faded = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("lead event tally")
        verbose_name_plural = _("lead event tallies")

    def __str__(self) -> str:
        return f"{self.lead_id}/{self.counter_id}: {self.count}"
