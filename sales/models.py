"""The sales side: teams of reps, who is away, how MQLs are handed over."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesTeam(models.Model):
    """A team of sales reps: hand-over rules assign within a team, reports filter by it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        related_name="sales_teams",
        blank=True,
    )

    class Meta:
        verbose_name = _("sales team")
        verbose_name_plural = _("sales teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssignmentRuleQuerySet(models.QuerySet):
    def in_order(self) -> "AssignmentRuleQuerySet":
        return self.order_by("position", "id")

    def active(self) -> "AssignmentRuleQuerySet":
        return self.filter(active=True)


class AssignmentRule(models.Model):
    """Which team gets an unowned MQL: the first active rule (by position) whose conditions
    all hold. An empty condition matches any lead; a rule without conditions is a fallback."""

    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    team = models.ForeignKey(
        SalesTeam, verbose_name=_("team"), on_delete=models.CASCADE, related_name="rules"
    )
    # ISO 3166 alpha-2 codes, as Lead.country stores them.
    countries = models.JSONField(_("countries"), default=list, blank=True)
    company_size_min = models.PositiveIntegerField(_("company size from"), null=True, blank=True)
    company_size_max = models.PositiveIntegerField(_("company size up to"), null=True, blank=True)
    # Compared case-insensitively with Lead.industry.
    industries = models.JSONField(_("industries"), default=list, blank=True)
    source = models.CharField(_("source channel"), max_length=16, blank=True)

    objects = AssignmentRuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]
        permissions = [("manage_assignment", _("Can manage sales teams and assignment rules"))]

    def __str__(self) -> str:
        return f"{self.position}: {self.team}"

    @property
    def is_fallback(self) -> bool:
        return not (
            self.countries
            or self.industries
            or self.source
            or self.company_size_min is not None
            or self.company_size_max is not None
        )

    def lead_filter(self) -> models.Q:
        """The leads this rule matches, as a filter on Lead."""
        q = models.Q()
        if self.countries:
            q &= models.Q(country__in=self.countries)
        if self.company_size_min is not None:
            q &= models.Q(company_size__gte=self.company_size_min)
        if self.company_size_max is not None:
            q &= models.Q(company_size__lte=self.company_size_max)
        if self.industries:
            industries = models.Q()
            for industry in self.industries:
                industries |= models.Q(industry__iexact=industry)
            q &= industries
        if self.source:
            q &= models.Q(source=self.source)
        return q


class TeamRotation(models.Model):
    """Where a team's round robin stands: the member who got the last lead. Kept apart from
    SalesTeam so the assigning run can lock it without blocking edits of the team."""

    team = models.OneToOneField(
        SalesTeam, verbose_name=_("team"), on_delete=models.CASCADE, related_name="rotation"
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("team rotation")
        verbose_name_plural = _("team rotations")

    def __str__(self) -> str:
        return str(self.team)


class AwayStatusQuerySet(models.QuerySet):
    def away_on(self, day) -> "AwayStatusQuerySet":
        """Who is away on `day`: marked away with no end date, or an end date not passed."""
        return self.filter(away=True).filter(
            models.Q(until__isnull=True) | models.Q(until__gte=day)
        )


class AwayStatus(models.Model):
    """Whether a rep is away (holiday, sick): the round robin skips them. With `until`, they
    are back by themselves the day after."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="away_status",
    )
    away = models.BooleanField(_("away"), default=False)
    until = models.DateField(_("away until (inclusive)"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = AwayStatusQuerySet.as_manager()

    class Meta:
        verbose_name = _("away status")
        verbose_name_plural = _("away statuses")

    def __str__(self) -> str:
        return f"{self.user}: {'away' if self.away else 'in'}"

    def is_away_on(self, day) -> bool:
        return self.away and (self.until is None or self.until >= day)


class OverdueReminder(models.Model):
    """The overdue-leads e-mail sent to a rep on a day: the nightly task sends at most one a
    day per rep, even when it runs twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    sent_on = models.DateField(_("sent on"))
    lead_count = models.PositiveIntegerField(_("overdue leads"), default=0)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("overdue reminder")
        verbose_name_plural = _("overdue reminders")
        constraints = [
            models.UniqueConstraint(fields=["user", "sent_on"], name="one_overdue_reminder_a_day")
        ]
        permissions = [("view_sla_breaches", _("Can see first-contact SLA breaches"))]

    def __str__(self) -> str:
        return f"{self.user} {self.sent_on}"
