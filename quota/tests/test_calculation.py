"""The quota arithmetic, against examples worked out by hand. No database."""

from decimal import Decimal
from fractions import Fraction

from quota.calculation import add_months, compute_quota

RATES = {
    "contact_lead": Decimal("0.8"),
    "lead_mql": Decimal("0.4"),
    "mql_sql": Decimal("0.25"),
    "sql_opportunity": Decimal("0.5"),
    "opportunity_won": Decimal("0.5"),
}


def _quota(revenue="120000", deal="6000", months=3, **rates):
    return compute_quota(
        revenue_target=Decimal(revenue),
        average_deal_size=Decimal(deal),
        months=months,
        rates=RATES | rates,
    )


def _totals(quota) -> dict:
    return {stage.stage: stage.total for stage in quota.stages}


def test_a_quarter_of_120000_in_deals_of_6000_works_back_up_the_funnel():
    quota = _quota()

    # 120,000 / 6,000 = 20 won; / 50 % = 40 opportunities; / 50 % = 80 SQLs;
    # / 25 % = 320 MQLs; / 40 % = 800 leads; / 80 % = 1,000 contacts.
    assert _totals(quota) == {
        "contact": 1000,
        "lead": 800,
        "mql": 320,
        "sql": 80,
        "opportunity": 40,
        "won": 20,
    }
    assert [stage.stage for stage in quota.stages] == [
        "contact",
        "lead",
        "mql",
        "sql",
        "opportunity",
        "won",
    ]
    assert quota.blocked_by is None


def test_per_month_and_per_week_divide_the_total_by_3_months_and_13_weeks_rounding_up():
    by_stage = _quota().by_stage()

    assert {s: (q.per_month, q.per_week) for s, q in by_stage.items()} == {
        "won": (7, 2),  # 20 / 3 = 6.7; 20 / 13 = 1.5
        "opportunity": (14, 4),  # 40 / 3 = 13.3; 40 / 13 = 3.1
        "sql": (27, 7),  # 80 / 3 = 26.7; 80 / 13 = 6.2
        "mql": (107, 25),  # 320 / 3 = 106.7; 320 / 13 = 24.6
        "lead": (267, 62),  # 800 / 3 = 266.7; 800 / 13 = 61.5
        "contact": (334, 77),  # 1000 / 3 = 333.3; 1000 / 13 = 76.9
    }


def test_a_year_has_52_weeks_and_a_month_52_twelfths_of_a_week():
    year = _quota(revenue="520000", deal="10000", months=12).by_stage()["won"]
    month = _quota(revenue="130000", deal="10000", months=1).by_stage()["won"]

    assert (year.total, year.per_month, year.per_week) == (52, 5, 1)
    # 13 / (52 / 12) = 3 exactly: no float error pushes it to 4.
    assert (month.total, month.per_month, month.per_week) == (13, 13, 3)


def test_every_step_rounds_up_to_whole_leads():
    quota = _quota(revenue="100000", deal="30000", opportunity_won=Decimal("0.3"))

    # 3.33 deals -> 4; 4 / 30 % = 13.3 opportunities -> 14; 14 / 50 % = 28 SQLs.
    assert _totals(quota)["won"] == 4
    assert _totals(quota)["opportunity"] == 14
    assert _totals(quota)["sql"] == 28


def test_exact_division_is_not_rounded_up_by_a_float_error():
    quota = _quota(revenue="40", deal="1", opportunity_won=Fraction(2, 5))

    assert _totals(quota)["opportunity"] == 100


def test_a_deal_bigger_than_the_target_still_takes_one_won_deal():
    assert _totals(_quota(revenue="1000", deal="5000"))["won"] == 1


def test_a_zero_rate_stops_the_stages_above_it_without_dividing_by_zero():
    quota = _quota(mql_sql=Decimal("0"))

    assert _totals(quota) == {
        "contact": None,
        "lead": None,
        "mql": None,
        "sql": 80,
        "opportunity": 40,
        "won": 20,
    }
    assert (quota.blocked_by, quota.blocked_because) == ("mql_sql", "zero")


def test_an_unknown_rate_is_reported_as_missing():
    quota = _quota(opportunity_won=None)

    assert _totals(quota)["won"] == 20
    assert _totals(quota)["opportunity"] is None
    assert (quota.blocked_by, quota.blocked_because) == ("opportunity_won", "missing")


def test_huge_targets_stay_exact_integers():
    quota = _quota(revenue="999999999999", deal="0.01", **dict.fromkeys(RATES, Decimal("0.0001")))

    assert _totals(quota)["won"] == 99999999999900
    assert _totals(quota)["contact"] == 99999999999900 * 10**20


def test_adding_months_clips_to_the_end_of_a_short_month():
    import datetime

    assert add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert add_months(datetime.date(2026, 3, 15), -12) == datetime.date(2025, 3, 15)
    assert add_months(datetime.date(2026, 11, 30), 3) == datetime.date(2027, 2, 28)
