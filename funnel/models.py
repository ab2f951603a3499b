"""The funnel's read model: per lead, when it reached each stage; per day, the counts the
dashboard adds up. Both are derived from StageTransition and Lead only, by
funnel.metrics.refresh_read_model (every minute), and the dashboard corrects them on the
fly for whatever happened since, so they are never the source of truth."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadMilestone(models.Model):
    """When one lead first entered each funnel stage, with the attributes the dashboard
    filters on, as of the last refresh. A lead entered "contact" at created_at."""

    # No database constraint: an erased lead's row must survive until the refresh takes its
    # counts out of FunnelFact, or the aggregate would silently drift.
    lead_id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    source = models.CharField(max_length=16, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(null=True)
    stage = models.CharField(max_length=16)
    # The latest move into the current stage: how long it has stood there.
    stage_since = models.DateTimeField()
    entered_lead = models.DateTimeField(null=True)
    entered_mql = models.DateTimeField(null=True)
    entered_sql = models.DateTimeField(null=True)
    entered_opportunity = models.DateTimeField(null=True)
    entered_won = models.DateTimeField(null=True)
    entered_lost = models.DateTimeField(null=True)
    entered_nurture = models.DateTimeField(null=True)
    entered_disqualified = models.DateTimeField(null=True)
    # The offer of the latest move into opportunity, for the pipeline board's amounts.
    offer_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    offer_close_date = models.DateField(null=True)

    class Meta:
        verbose_name = _("lead milestone")
        verbose_name_plural = _("lead milestones")
        permissions = [("view_dashboard", _("Can view the funnel dashboard"))]
        indexes = [
            # The pipeline board: a few stages, one owner or all, oldest or newest first.
            models.Index(fields=["stage", "owner_id", "stage_since"], name="milestone_board"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.stage}"


class FactKind(models.IntegerChoices):
    ENTERED = 1, "entered"  # leads that entered `stage` on `day`
    REACHED_NEXT = 2, "reached next"  # of those, how many reached the next funnel stage
    LEFT = 3, "left"  # leads that entered the stage after `stage` on `day`, `days` after
    COHORT = 4, "cohort"  # leads created on `day` that reached `stage` `days` later
    CURRENT = 5, "current"  # leads standing in `stage` since `day`


class Facts(models.Model):
    """What a count of leads is keyed by besides its time: kind, stage, source, campaign and
    owner (0: none), and for the distributions (LEFT, COHORT) the whole days."""

    kind = models.PositiveSmallIntegerField(choices=FactKind)
    stage = models.CharField(max_length=16)
    source = models.CharField(max_length=16, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(default=0)
    # Whole days, for the kinds that are distributions (LEFT, COHORT); 0 otherwise.
    days = models.IntegerField(default=0)
    count = models.IntegerField(default=0)

    class Meta:
        abstract = True


class FunnelFact(Facts):
    """A count of leads per day. Always equal to what funnel.metrics.contributions() gives
    over all LeadMilestone rows."""

    day = models.DateField()

    class Meta:
        verbose_name = _("funnel fact")
        verbose_name_plural = _("funnel facts")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "day", "stage", "source", "campaign", "owner_id", "days"],
                name="funnel_fact_key",
            )
        ]
        # The unique index, led by (kind, day), serves the dashboard's period scans too.

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.day} {self.stage}: {self.count}"


class FunnelMonthFact(Facts):
    """FunnelFact summed per calendar month (`month` is its first day): a year of
    distributions in a few thousand rows. The dashboard reads whole months here and only the
    partial months at a period's ends in FunnelFact."""

    month = models.DateField()

    class Meta:
        verbose_name = _("funnel month fact")
        verbose_name_plural = _("funnel month facts")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "month", "stage", "source", "campaign", "owner_id", "days"],
                name="funnel_month_fact_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.month:%Y-%m} {self.stage}: {self.count}"


class FunnelRejection(models.Model):
    """One MQL sales sent back with a rejection reason, with the lead's attributes and the
    criteria it met in its scored version, as of the last refresh."""

    transition_id = models.BigIntegerField(primary_key=True)
    lead_id = models.BigIntegerField(db_index=True)
    day = models.DateField(db_index=True)  # local day of the move
    reason = models.TextField()
    source = models.CharField(max_length=16, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(null=True)
    scored_version = models.IntegerField(null=True)
    # Positions (0-based) of the criteria the lead met, from LeadScore.points.
    criteria = ArrayField(models.SmallIntegerField(), default=list)

    class Meta:
        verbose_name = _("funnel rejection")
        verbose_name_plural = _("funnel rejections")

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.reason}"


class FunnelWatermark(models.Model):
    """How far the read model has taken in the history: one row (pk 1)."""

    last_transition_id = models.BigIntegerField(default=0)
    last_owner_change_id = models.BigIntegerField(default=0)
    last_lead_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("funnel watermark")
        verbose_name_plural = _("funnel watermarks")

    def __str__(self) -> str:
        return f"transition {self.last_transition_id}"
