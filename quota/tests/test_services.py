"""Measured rates and target tracking, against hand-counted histories and a direct
recomputation over every transition."""

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import timezone

from leads.models import FUNNEL_STAGES, Lead, Stage
from leads.tests.factories import lead_at
from quota import services
from quota.models import QuotaTarget
from quota.tests.factories import QuotaTargetFactory
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db


def at(day: str, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(
        datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time(hour))
    )


def move(lead: Lead, to_stage: str, when: datetime.datetime) -> None:
    transition = StageTransition.objects.create(
        lead=lead, from_stage=lead.stage, to_stage=to_stage, score=0
    )
    # occurred_at is auto_now_add: set the history's time afterwards.
    StageTransition.objects.filter(pk=transition.pk).update(occurred_at=when)
    Lead.objects.filter(pk=lead.pk).update(stage=to_stage)
    lead.stage = to_stage


def history(created: str, *moves: tuple[str, str], **fields) -> Lead:
    lead = lead_at(created_at=at(created, 9), stage=Stage.CONTACT, **fields)
    for to_stage, day in moves:
        move(lead, to_stage, at(day))
    return lead


START, END = at("2026-01-01", 0), at("2026-04-01", 0)


@pytest.fixture
def quarter_history():
    """Q1 2026, counted by hand in the test below."""
    ann = history(
        "2026-01-02",
        ("lead", "2026-01-05"),
        ("mql", "2026-01-10"),
        ("sql", "2026-02-01"),
        ("opportunity", "2026-02-10"),
        ("won", "2026-03-01"),
    )
    # Reaches SQL after the quarter: still counts as converted (reached "up to now").
    history("2026-01-03", ("lead", "2026-01-06"), ("mql", "2026-01-12"), ("sql", "2026-04-10"))
    # A lead since December; enters MQL in the quarter, drops to nurture and comes back:
    # one entry into MQL, not two.
    history(
        "2025-12-01",
        ("lead", "2025-12-10"),
        ("mql", "2026-01-15"),
        ("nurture", "2026-01-20"),
        ("mql", "2026-02-20"),
    )
    # Skips MQL: reaching SQL means it reached MQL too.
    history("2026-01-04", ("lead", "2026-01-07"), ("sql", "2026-01-20"), ("lost", "2026-03-10"))
    # Merged away into Ann: a duplicate, left out everywhere.
    history("2026-01-05", ("lead", "2026-01-08"), ("mql", "2026-01-09"), merged_into=ann)
    # Created in the quarter, never moved.
    history("2026-03-30")
    # Created on the first moment after the quarter: outside (half-open period).
    lead_at(created_at=END, stage=Stage.CONTACT)


def test_measured_rates_match_the_hand_count(quarter_history):
    rates = services.conversion_rates(start=START, end=END)

    assert {key: (r.reached, r.entered) for key, r in rates.items()} == {
        "contact_lead": (3, 4),
        "lead_mql": (3, 3),
        "mql_sql": (2, 3),
        "sql_opportunity": (1, 2),
        "opportunity_won": (1, 1),
    }
    assert rates["mql_sql"].rate == Fraction(2, 3)
    assert rates["mql_sql"].percent == Decimal("66.67")


def _recomputed(start, end) -> dict[str, tuple[int, int]]:
    """The definitions applied naively to every row, in Python."""
    active = {lead.pk: lead for lead in Lead.objects.filter(merged_into__isnull=True)}
    first: dict[tuple[int, str], datetime.datetime] = {}
    for t in StageTransition.objects.order_by("occurred_at", "id"):
        first.setdefault((t.lead_id, t.to_stage), t.occurred_at)
    order = [str(s) for s in FUNNEL_STAGES]

    def entered(lead_id, stage):
        if stage == "contact":
            return active[lead_id].created_at
        return first.get((lead_id, stage))

    def reached(lead_id, stage):
        later = ["won"] if stage == "won" else order[order.index(stage) :]
        return any((lead_id, s) in first for s in later)

    result = {}
    for key, (a, b) in services.RATE_STEPS.items():
        cohort = [i for i in active if (e := entered(i, a)) is not None and start <= e < end]
        result[key] = (sum(reached(i, b) for i in cohort), len(cohort))
    return result


@pytest.mark.parametrize(
    ("start", "end"),
    [(START, END), (at("2026-01-10", 0), at("2026-02-15", 0)), (at("2025-01-01", 0), END)],
)
def test_measured_rates_equal_a_direct_recomputation(quarter_history, start, end):
    rates = services.conversion_rates(start=start, end=end)

    assert {k: (r.reached, r.entered) for k, r in rates.items()} == _recomputed(start, end)


def test_a_stage_nobody_entered_has_no_rate_rather_than_zero():
    rates = services.conversion_rates(start=START, end=END)

    assert rates["opportunity_won"].entered == 0
    assert rates["opportunity_won"].rate is None
    assert rates["opportunity_won"].percent is None


def test_measured_rates_by_day_include_the_last_day(quarter_history):
    rates = services.measured_rates(
        since=datetime.date(2026, 1, 1), until=datetime.date(2026, 3, 31)
    )

    assert (rates["contact_lead"].reached, rates["contact_lead"].entered) == (3, 4)


def test_leads_in_stage_counts_active_leads_per_funnel_stage(quarter_history):
    assert services.leads_in_stage() == {
        "contact": 2,
        "lead": 0,
        "mql": 1,
        "sql": 1,
        "opportunity": 0,
        "won": 1,
    }


def test_activating_a_target_deactivates_the_other():
    first = QuotaTargetFactory(is_active=True)
    second = QuotaTargetFactory()

    services.activate_target(target_id=second.pk)

    assert QuotaTarget.objects.active() == second
    first.refresh_from_db()
    assert not first.is_active


def test_tracking_counts_first_entries_per_week_since_the_start():
    # Starts Monday 5 January; per week: 25 MQLs, 7 SQLs, 4 opportunities, 2 won.
    target = QuotaTargetFactory(starts_on=datetime.date(2026, 1, 5), is_active=True)
    history("2026-01-01", ("mql", "2026-01-06"))
    history("2026-01-01", ("mql", "2026-01-13"), ("nurture", "2026-01-13"), ("mql", "2026-01-14"))
    history("2026-01-01", ("sql", "2026-01-19"))
    history("2026-01-01", ("won", "2026-01-04"))  # before the start
    history("2026-01-01", ("mql", "2026-01-03"), ("lead", "2026-01-04"), ("mql", "2026-01-08"))
    history("2026-01-01", ("mql", "2026-01-21"))  # after "now"

    tracking = services.track_target(target, now=at("2026-01-20", 15))

    assert tracking.weeks_elapsed == 3
    assert [w.starts_on for w in tracking.weeks] == [
        datetime.date(2026, 1, 5),
        datetime.date(2026, 1, 12),
        datetime.date(2026, 1, 19),
    ]
    assert [w.cells for w in tracking.weeks] == [
        {"mql": (25, 1), "sql": (7, 0), "opportunity": (4, 0), "won": (2, 0)},
        {"mql": (25, 1), "sql": (7, 0), "opportunity": (4, 0), "won": (2, 0)},
        {"mql": (25, 0), "sql": (7, 1), "opportunity": (4, 0), "won": (2, 0)},
    ]
    assert tracking.totals == {
        # 3 of the quarter's 13 weeks: 320 x 3 / 13 = 73.8 -> 74, and so on.
        "mql": (74, 2),
        "sql": (19, 1),
        "opportunity": (10, 0),
        "won": (5, 0),
    }


def test_tracking_a_long_target_shows_the_latest_13_weeks_and_totals_all():
    target = QuotaTargetFactory(starts_on=datetime.date(2026, 1, 5), period="year", months=12)
    history("2026-01-01", ("won", "2026-01-06"))

    tracking = services.track_target(target, now=at("2026-06-01", 12))

    assert tracking.weeks_elapsed == 22
    assert len(tracking.weeks) == 13
    # 1 June is a Monday: the week under way starts that day.
    assert tracking.weeks[-1].starts_on == datetime.date(2026, 6, 1)
    assert tracking.totals["won"][1] == 1


def test_tracking_stops_at_the_end_of_the_period():
    target = QuotaTargetFactory(starts_on=datetime.date(2026, 1, 5))

    tracking = services.track_target(target, now=at("2027-01-01", 12))

    # 5 January + 3 months = 5 April: 12 weeks and 6 days, so 13 weeks.
    assert tracking.weeks_elapsed == 13
    assert tracking.totals["mql"] == (320, 0)


def test_a_target_that_has_not_started_tracks_nothing():
    target = QuotaTargetFactory(starts_on=datetime.date(2026, 2, 2))

    tracking = services.track_target(target, now=at("2026-01-20", 12))

    assert (tracking.weeks_elapsed, tracking.weeks) == (0, [])
    assert tracking.totals["mql"] == (0, 0)
