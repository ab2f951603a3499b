"""The lead quota, worked back up the funnel from a revenue target. Pure arithmetic, no ORM.

Won deals = revenue target / average deal size; every stage above needs the stage below
divided by its conversion rate. Every count is rounded up at each step: half a deal is not a
deal, and rounding only at the end would ask for fewer leads than the rates say it takes.
Fractions keep the arithmetic exact, so 40 / 40 % is 100 and never 100.00000001 -> 101.
"""

import datetime
import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

# Weeks in a month on average (52 weeks a year): a quarter has 13 weeks, a year 52.
WEEKS_PER_MONTH = Fraction(52, 12)

# Bottom-up: (stage whose count is computed, rate key that leads from it to the stage below).
# The stage below opportunity is won, and so on up to contact.
STEPS = (
    ("opportunity", "opportunity_won"),
    ("sql", "sql_opportunity"),
    ("mql", "mql_sql"),
    ("lead", "lead_mql"),
    ("contact", "contact_lead"),
)
STAGES_TOP_DOWN = ("contact", "lead", "mql", "sql", "opportunity", "won")


def ceil(value: Fraction) -> int:
    return math.ceil(value)


@dataclass
class StageQuota:
    stage: str
    # None: a rate on the way down is 0 or unknown, so this stage cannot be computed.
    total: int | None
    per_month: int | None = None
    per_week: int | None = None
    # The rate (a fraction 0..1) dividing the stage below into this one; None for won.
    rate: Fraction | None = None
    below: str | None = None
    below_total: int | None = None


@dataclass
class Quota:
    revenue_target: Decimal
    average_deal_size: Decimal
    months: int
    weeks: Fraction
    stages: list[StageQuota] = field(default_factory=list)
    # The first rate key (going up) that is 0 or unknown, and why.
    blocked_by: str | None = None
    blocked_because: str | None = None  # "zero" or "missing"

    def by_stage(self) -> dict[str, StageQuota]:
        return {stage.stage: stage for stage in self.stages}


def per_period(total: int, months: int) -> tuple[int, int]:
    """(per month, per week) needed to reach `total` in `months`, each rounded up."""
    weeks = months * WEEKS_PER_MONTH
    return ceil(Fraction(total) / months), ceil(Fraction(total) / weeks)


def compute_quota(
    *,
    revenue_target: Decimal,
    average_deal_size: Decimal,
    months: int,
    rates: dict[str, Fraction | Decimal | None],
) -> Quota:
    """How many won deals, opportunities, SQLs, MQLs, leads and contacts `revenue_target` in
    `months` takes, given each step's conversion rate as a fraction (0.25 for 25 %).

    A stage above a rate that is 0 or None cannot be computed: its total stays None and
    `blocked_by` names the rate, so the page can say so instead of dividing by zero.
    """
    if revenue_target <= 0 or average_deal_size <= 0 or months <= 0:
        raise ValueError("revenue target, deal size and months must be positive")
    quota = Quota(
        revenue_target=revenue_target,
        average_deal_size=average_deal_size,
        months=months,
        weeks=months * WEEKS_PER_MONTH,
    )
    won = ceil(Fraction(revenue_target) / Fraction(average_deal_size))
    quota.stages.append(StageQuota("won", won, *per_period(won, months)))
    below, below_total = "won", won
    for stage, key in STEPS:
        rate = rates.get(key)
        rate = Fraction(rate) if rate is not None else None
        if quota.blocked_by is None and (rate is None or rate <= 0):
            quota.blocked_by = key
            quota.blocked_because = "missing" if rate is None else "zero"
        if quota.blocked_by is not None or below_total is None:
            quota.stages.append(StageQuota(stage, None, rate=rate, below=below))
            below, below_total = stage, None
            continue
        total = ceil(Fraction(below_total) / rate)
        quota.stages.append(
            StageQuota(
                stage,
                total,
                *per_period(total, months),
                rate=rate,
                below=below,
                below_total=below_total,
            )
        )
        below, below_total = stage, total
    quota.stages.reverse()
    return quota


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later (or earlier), clipped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # The 31st of a short month becomes its last day.
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
