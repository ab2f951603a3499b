"""Saved revenue targets and the quota they imply, and whether the calculator is public."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

# The funnel's conversion steps, top-down; QuotaTarget stores one `rate_<key>` for each.
RATE_KEYS = ("contact_lead", "lead_mql", "mql_sql", "sql_opportunity", "opportunity_won")


class QuotaTargetQuerySet(models.QuerySet):
    def active(self) -> "QuotaTarget | None":
        return self.filter(is_active=True).first()


class QuotaTarget(models.Model):
    """A calculation saved as a target: what it asked for, from when, with which rates.

    The rates are stored as used (percentages), so the target keeps meaning what it meant
    when it was set, however the funnel's measured rates move afterwards.
    """

    name = models.CharField(_("name"), max_length=120)
    starts_on = models.DateField(_("starts on"))
    period = models.CharField(_("period"), max_length=10)
    months = models.PositiveSmallIntegerField(_("months"))
    revenue_target = models.DecimalField(_("revenue target"), max_digits=15, decimal_places=2)
    average_deal_size = models.DecimalField(_("average deal size"), max_digits=15, decimal_places=2)
    # Percentages; empty when neither measured nor given (the stages above it are unknown).
    rate_contact_lead = models.DecimalField(
        _("contact to lead (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rate_lead_mql = models.DecimalField(
        _("lead to MQL (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rate_mql_sql = models.DecimalField(
        _("MQL to SQL (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rate_sql_opportunity = models.DecimalField(
        _("SQL to opportunity (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rate_opportunity_won = models.DecimalField(
        _("opportunity to won (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = QuotaTargetQuerySet.as_manager()

    class Meta:
        verbose_name = _("quota target")
        verbose_name_plural = _("quota targets")
        ordering = ["-is_active", "-starts_on", "-id"]
        permissions = [("manage_targets", "Can save and manage lead quota targets")]
        constraints = [
            # The dashboard tracks one target; activating one deactivates the other in the
            # same transaction, and this catches two sessions activating at once.
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="quota_one_active_target",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def rates(self) -> dict[str, Decimal | None]:
        """The percentages used, by step."""
        return {key: getattr(self, f"rate_{key}") for key in RATE_KEYS}

    def calculator_query(self) -> dict[str, str]:
        """The calculator's GET parameters that reproduce this target."""
        query = {
            "revenue_target": str(self.revenue_target),
            "average_deal_size": str(self.average_deal_size),
            "period": self.period,
        }
        for key, rate in self.rates().items():
            if rate is not None:
                query[f"rate_{key}"] = str(rate)
        return query

    def calculator_url(self) -> str:
        return f"{reverse('funnel:quota')}?{urlencode(self.calculator_query())}"


class CalculatorSettings(models.Model):
    """One row: whether anonymous visitors may use the quota calculator."""

    public = models.BooleanField(_("public"), default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("calculator settings")
        verbose_name_plural = _("calculator settings")
        permissions = [("publish_calculator", "Can make the lead quota calculator public")]
        constraints = [
            # A singleton: only the row with id 1 may exist.
            models.CheckConstraint(condition=models.Q(id=1), name="quota_settings_singleton")
        ]

    def __str__(self) -> str:
        return str(_("Calculator settings"))

    @classmethod
    def is_public(cls) -> bool:
        return bool(cls.objects.filter(pk=1).values_list("public", flat=True).first())
