"""Review findings of issue 6 kept as tests: the watermark and late commits, merged-away
leads, far-future dates."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from funnel import metrics
from funnel.metrics import Filters, refresh_read_model
from funnel.models import FunnelWatermark, LeadMilestone
from funnel.tests.recompute import comparable, recompute, shown
from leads.models import Lead, Stage
from leads.tests.factories import lead_at
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db
# Taking an id from a sequence without committing a row is PostgreSQL's (SQLite has a single
# writer, so no transaction commits an earlier id later).
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="sequence gaps are PostgreSQL's"
)


def _reserve_transition_id() -> int:
    """An id taken as an INSERT takes it, by a transaction that has not committed yet."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('scoring_stagetransition','id'))")
        return cursor.fetchone()[0]


def _commit_late(transition_id: int, lead: Lead, to_stage: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scoring_stagetransition (id, lead_id, from_stage, to_stage, reason,"
            " details, score, occurred_at) VALUES (%s, %s, 'mql', %s, '', '{}', 0, now())",
            [transition_id, lead.pk, to_stage],
        )


def _period() -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=2), end=today + timedelta(days=1))


def _dashboard_sql(stage: str, filters: Filters) -> int:
    start, end = filters.bounds()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT lead_id, min(occurred_at) t FROM scoring_stagetransition"
            " WHERE to_stage=%s GROUP BY lead_id) f WHERE t >= %s AND t < %s",
            [stage, start, end],
        )
        return cursor.fetchone()[0]


def _entered(stage: str, filters: Filters) -> int:
    return next(row for row in metrics.dashboard(filters).stages if row.stage == stage).entered


@postgresql_only
def test_the_watermark_stops_before_an_id_still_held_by_an_uncommitted_transaction():
    """The reviewer's scenario, with transitions stamped at insert time (scoring/compiled.py
    now writes clock_timestamp()): A holds id N uncommitted; B commits N+1 just now, and C,
    a long transaction stamped with its old start, commits N+2. The age rule alone moved
    the watermark to N+2 and A's row, committed later, was never counted."""
    old = timezone.now() - timedelta(hours=1)
    a_lead = lead_at(stage=Stage.SQL, created_at=old)
    b_lead = lead_at(stage=Stage.MQL, created_at=old)
    c_lead = lead_at(stage=Stage.MQL, created_at=old)
    held = _reserve_transition_id()
    StageTransition.objects.create(lead=b_lead, from_stage="lead", to_stage="mql", score=0)
    c = StageTransition.objects.create(lead=c_lead, from_stage="lead", to_stage="mql", score=0)
    StageTransition.objects.filter(pk=c.pk).update(occurred_at=old)

    result = refresh_read_model()
    assert result.watermark < held

    _commit_late(held, a_lead, "sql")
    refresh_read_model()

    assert _entered("sql", _period()) == _dashboard_sql("sql", _period()) == 1
    assert _entered("mql", _period()) == _dashboard_sql("mql", _period()) == 2


@postgresql_only
def test_a_rolled_back_id_is_passed_once_the_rows_after_it_are_settled():
    old = timezone.now() - timedelta(hours=1)
    lead = lead_at(stage=Stage.MQL, created_at=old)
    _reserve_transition_id()  # rolled back: never appears
    after = StageTransition.objects.create(lead=lead, from_stage="lead", to_stage="mql", score=0)

    assert refresh_read_model().watermark < after.pk  # young: maybe still being committed
    StageTransition.objects.filter(pk=after.pk).update(occurred_at=old)
    assert refresh_read_model().watermark == after.pk
    assert FunnelWatermark.objects.get(pk=1).last_transition_id == after.pk


def test_merged_away_leads_are_left_out_of_the_dashboard_as_of_the_calculator():
    from quota.services import conversion_rates

    old = timezone.now() - timedelta(days=5)
    survivor = lead_at(created_at=old)
    dup = lead_at(created_at=old)
    refresh_read_model()
    assert LeadMilestone.objects.filter(lead_id=dup.pk).exists()
    Lead.objects.filter(pk=dup.pk).update(merged_into=survivor)
    today = timezone.localdate()
    filters = Filters(start=today - timedelta(days=30), end=today + timedelta(days=1))
    start, end = filters.bounds()
    quota_contacts = conversion_rates(start=start, end=end)["contact_lead"].entered

    # Before the refresh (the on-the-fly correction) and after it.
    assert _entered("contact", filters) == quota_contacts == 1
    refresh_read_model()
    assert not LeadMilestone.objects.filter(lead_id=dup.pk).exists()
    assert _entered("contact", filters) == quota_contacts == 1
    assert shown(metrics.dashboard(filters)) == comparable(recompute(filters))


def test_a_merged_away_leads_rejection_is_not_counted(sales_rep):
    old = timezone.now() - timedelta(days=3)
    survivor = lead_at(created_at=old)
    dup = lead_at(stage=Stage.NURTURE, created_at=old)
    StageTransition.objects.create(
        lead=dup, from_stage="mql", to_stage="nurture", score=0, details={"rejection": "no_budget"}
    )
    today = timezone.localdate()
    filters = Filters(start=today - timedelta(days=30), end=today + timedelta(days=1))
    refresh_read_model()
    assert metrics.dashboard(filters).rejections_total == 1

    Lead.objects.filter(pk=dup.pk).update(merged_into=survivor)

    assert metrics.dashboard(filters).rejections_total == 0
    refresh_read_model()
    assert metrics.dashboard(filters).rejections_total == 0


@pytest.mark.parametrize(
    "dates",
    [
        {"date_from": "9999-12-01", "date_to": "9999-12-31"},
        {"date_from": "1999-12-01", "date_to": "2000-01-31"},
        {"date_from": "0001-01-01", "date_to": "0001-01-02"},
    ],
)
def test_dates_out_of_range_are_a_form_error_not_a_500(client, marketer, dates):
    client.force_login(marketer)

    response = client.get(reverse("funnel:dashboard"), dates)

    assert response.status_code in (200, 400)
    assert response.context["form"].errors
    assert "Choose a date between" in response.content.decode()


def test_a_date_within_the_range_is_taken(client, marketer):
    client.force_login(marketer)

    response = client.get(
        reverse("funnel:dashboard"), {"date_from": "2000-01-01", "date_to": "2000-01-31"}
    )

    assert response.status_code == 200
    assert not response.context["form"].errors
    assert response.context["filters"].start == date(2000, 1, 1)
