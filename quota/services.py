"""Reading the funnel for the quota calculator, and the writes of saved targets.

Shared definitions (issue 6), so the dashboard, the calculator and the tests agree:
- a lead *entered* stage S at the occurred_at of its first StageTransition to S; every lead
  entered "contact" at its created_at;
- it *reached* S if it entered S or any later funnel stage (won only by entering won);
- conversion A -> B over [start, end): of the leads that entered A within the period, the
  share that reached B at any time up to now.
Merged-away leads are duplicates of their survivor and are left out.
"""

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leads.models import FUNNEL_STAGES, Lead, Stage
from quota.calculation import Quota, add_months, compute_quota
from quota.models import RATE_KEYS, CalculatorSettings, QuotaTarget
from scoring.models import StageTransition

# Each rate key: (from stage, to stage).
RATE_STEPS: dict[str, tuple[str, str]] = {
    "contact_lead": (Stage.CONTACT, Stage.LEAD),
    "lead_mql": (Stage.LEAD, Stage.MQL),
    "mql_sql": (Stage.MQL, Stage.SQL),
    "sql_opportunity": (Stage.SQL, Stage.OPPORTUNITY),
    "opportunity_won": (Stage.OPPORTUNITY, Stage.WON),
}
assert tuple(RATE_STEPS) == RATE_KEYS

# Measuring rates over a year of transitions costs a few hundred milliseconds on a big
# database, and the public page may be asked often: a figure of a few minutes old will do.
RATES_CACHE_SECONDS = 300

TRACKED_STAGES = (Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
# The dashboard shows the latest weeks of a long target; the totals cover all of it.
TRACKED_WEEKS_SHOWN = 13


@dataclass(frozen=True)
class MeasuredRate:
    key: str
    entered: int
    reached: int

    @property
    def rate(self) -> Fraction | None:
        """The share as a fraction, None when no lead entered the stage (no data)."""
        return Fraction(self.reached, self.entered) if self.entered else None

    @property
    def percent(self) -> Decimal | None:
        if self.rate is None:
            return None
        return (Decimal(self.reached) * 100 / Decimal(self.entered)).quantize(Decimal("0.01"))


def stages_from(stage: str) -> list[str]:
    """`stage` and every later funnel stage: the stages whose entry means `stage` was reached."""
    if stage == Stage.WON:
        return [Stage.WON]
    return [str(s) for s in FUNNEL_STAGES[FUNNEL_STAGES.index(stage) :]]


def first_entries(
    stages: list[str] | tuple[str, ...], start: datetime.datetime, end: datetime.datetime
) -> QuerySet[StageTransition]:
    """Transitions that are an active lead's first into their stage, within [start, end).

    Ties on occurred_at are broken by id, so a lead is counted once per stage.
    """
    earlier = StageTransition.objects.filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id")),
        lead_id=OuterRef("lead_id"),
        to_stage=OuterRef("to_stage"),
    )
    return (
        StageTransition.objects.filter(
            to_stage__in=stages,
            occurred_at__gte=start,
            occurred_at__lt=end,
            lead__merged_into__isnull=True,
        )
        .exclude(Exists(earlier))
        .order_by()
    )


def _reached(stage: str, lead_ref: str) -> Exists:
    return Exists(
        StageTransition.objects.filter(lead_id=OuterRef(lead_ref), to_stage__in=stages_from(stage))
    )


def conversion_rates(
    *, start: datetime.datetime, end: datetime.datetime
) -> dict[str, MeasuredRate]:
    """Each funnel step's conversion over [start, end), as measured from the transitions."""
    rates = {}
    for key, (from_stage, to_stage) in RATE_STEPS.items():
        if from_stage == Stage.CONTACT:
            counts = (
                Lead.objects.active()
                .filter(created_at__gte=start, created_at__lt=end)
                .aggregate(
                    entered=Count("id"), reached=Count("id", filter=_reached(to_stage, "pk"))
                )
            )
        else:
            counts = first_entries([from_stage], start, end).aggregate(
                entered=Count("id"), reached=Count("id", filter=_reached(to_stage, "lead_id"))
            )
        rates[key] = MeasuredRate(key, counts["entered"], counts["reached"])
    return rates


def measured_rates(*, since: datetime.date, until: datetime.date) -> dict[str, MeasuredRate]:
    """`conversion_rates` over whole days, `since` up to and including `until` (local time),
    cached for a few minutes."""
    key = f"quota:rates:{since.isoformat()}:{until.isoformat()}"
    end = start_of(until + datetime.timedelta(days=1))
    return cache.get_or_set(
        key, lambda: conversion_rates(start=start_of(since), end=end), RATES_CACHE_SECONDS
    )


def start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` in the project's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def leads_in_stage() -> dict[str, int]:
    """How many active leads stand in each funnel stage now, zero included; a minute old
    at most (counting a million leads takes a few hundred milliseconds)."""

    def count() -> dict[str, int]:
        counts = dict(
            Lead.objects.active()
            .filter(stage__in=FUNNEL_STAGES)
            .values_list("stage")
            .annotate(n=Count("id"))
            .order_by()
        )
        return {str(stage): counts.get(stage, 0) for stage in FUNNEL_STAGES}

    return cache.get_or_set("quota:leads-in-stage", count, 60)


# --- Saved targets -----------------------------------------------------------------------------


def save_target(
    *,
    name: str,
    starts_on: datetime.date,
    period: str,
    months: int,
    revenue_target: Decimal,
    average_deal_size: Decimal,
    rates: dict[str, Decimal | None],
    actor,
    activate: bool = False,
) -> QuotaTarget:
    """Save a calculation as a target with the rates (percentages) it used; optionally make
    it the one the dashboard tracks."""
    with transaction.atomic():
        target = QuotaTarget.objects.create(
            name=name,
            starts_on=starts_on,
            period=period,
            months=months,
            revenue_target=revenue_target,
            average_deal_size=average_deal_size,
            created_by=actor,
            **{f"rate_{key}": rates.get(key) for key in RATE_KEYS},
        )
        if activate:
            activate_target(target_id=target.pk)
            target.refresh_from_db()
    return target


def activate_target(*, target_id: int) -> None:
    """Make this target the one the dashboard tracks, and no other."""
    with transaction.atomic():
        # Lock every active row first: two people activating at once serialise here, and
        # the partial unique index catches whatever slips through.
        list(QuotaTarget.objects.select_for_update().filter(is_active=True))
        QuotaTarget.objects.filter(is_active=True).exclude(pk=target_id).update(is_active=False)
        QuotaTarget.objects.filter(pk=target_id).update(is_active=True)


def deactivate_target(*, target_id: int) -> None:
    QuotaTarget.objects.filter(pk=target_id).update(is_active=False)


def set_calculator_public(*, public: bool, actor) -> CalculatorSettings:
    """Open the calculator to anonymous visitors, or close it again."""
    settings_row, _created = CalculatorSettings.objects.update_or_create(
        pk=1, defaults={"public": public, "changed_by": actor}
    )
    return settings_row


# --- Tracking the active target ----------------------------------------------------------------


def target_quota(target: QuotaTarget) -> Quota:
    return compute_quota(
        revenue_target=target.revenue_target,
        average_deal_size=target.average_deal_size,
        months=target.months,
        rates={
            key: (Fraction(rate) / 100 if rate is not None else None)
            for key, rate in target.rates().items()
        },
    )


@dataclass
class TrackedWeek:
    starts_on: datetime.date
    # stage -> (required, actual); required is None when the quota could not compute it.
    cells: dict[str, tuple[int | None, int]]


@dataclass
class Tracking:
    target: QuotaTarget
    quota: Quota
    weeks: list[TrackedWeek]
    # Weeks elapsed since the start (the current one included), and all of them together.
    weeks_elapsed: int
    totals: dict[str, tuple[int | None, int]]
    stages: tuple[str, ...] = TRACKED_STAGES


def track_target(target: QuotaTarget, *, now: datetime.datetime | None = None) -> Tracking:
    """Per week since the target's start: the leads required to enter MQL, SQL, opportunity
    and won (the quota's per-week figure) against those that did (first entry that week)."""
    now = now or timezone.now()
    quota = target_quota(target)
    by_stage = quota.by_stage()
    start = start_of(target.starts_on)
    end_of_period = start_of(add_months(target.starts_on, target.months))
    end = min(now, end_of_period)
    week = datetime.timedelta(days=7)
    # The week under way counts as elapsed: its required figure is due by its end.
    elapsed = -(-(end - start) // week) if end > start else 0
    shown = range(max(0, elapsed - TRACKED_WEEKS_SHOWN), elapsed)
    aggregates = {}
    for stage in TRACKED_STAGES:
        aggregates[f"{stage}_total"] = Count("id", filter=Q(to_stage=stage))
        for i in shown:
            aggregates[f"{stage}_{i}"] = Count(
                "id",
                filter=Q(
                    to_stage=stage,
                    occurred_at__gte=start + i * week,
                    occurred_at__lt=start + (i + 1) * week,
                ),
            )
    counts = first_entries(TRACKED_STAGES, start, end).aggregate(**aggregates) if elapsed else {}
    weeks = [
        TrackedWeek(
            starts_on=target.starts_on + i * week,
            cells={
                stage: (by_stage[stage].per_week, counts.get(f"{stage}_{i}", 0))
                for stage in TRACKED_STAGES
            },
        )
        for i in shown
    ]
    # Required so far: the total's share of the weeks elapsed, not per-week x weeks, whose
    # rounding up would ask for more than the whole target by the end.
    totals = {
        stage: (
            min(by_stage[stage].total, math.ceil(by_stage[stage].total * elapsed / quota.weeks))
            if by_stage[stage].total is not None
            else None,
            counts.get(f"{stage}_total", 0),
        )
        for stage in TRACKED_STAGES
    }
    return Tracking(target, quota, weeks, elapsed, totals)
