from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activities import pipeline
from activities.tests.factories import backdate, lead_in
from leads.models import Lead, Stage

pytestmark = pytest.mark.django_db


def _columns(response) -> dict:
    return {column.stage: column for column in response.context["columns"]}


def _recomputed(owner_id: int | None, days: int = 90) -> dict:
    """Count and amount per column straight from the tables, as a check on the board
    (in Python: the same on PostgreSQL and SQLite)."""
    from scoring.models import StageTransition

    since = timezone.now() - timedelta(days=days)
    leads = Lead.objects.filter(
        merged_into__isnull=True, stage__in=["sql", "opportunity", "won", "lost"]
    )
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    result: dict = {}
    for lead in leads:
        moves = StageTransition.objects.filter(lead=lead).order_by("-occurred_at", "-id")
        if lead.stage in ("won", "lost"):
            last = moves.filter(to_stage=lead.stage).first()
            if last is None or last.occurred_at < since:
                continue
        count, total = result.get(lead.stage, (0, None))
        offer = moves.filter(to_stage="opportunity").first()
        amount = ((offer.details or {}).get("offer") or {}).get("amount") if offer else None
        if lead.stage != "sql" and amount is not None:
            total = (total or 0) + Decimal(str(amount))
        result[lead.stage] = (count + 1, total)
    return result


@pytest.fixture
def board_leads(sales_rep, other_rep, admin_user):
    """Bob's and Rob's pipeline: SQLs, opportunities and outcomes, one won too long ago."""
    leads = {
        "bob_sql": lead_in(Stage.SQL, actor=admin_user, owner=sales_rep),
        "bob_opp": lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep, amount="1000.50"),
        "bob_opp2": lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep, amount="250"),
        "bob_won": lead_in(Stage.WON, actor=admin_user, owner=sales_rep, amount="5000"),
        "bob_old_won": lead_in(Stage.WON, actor=admin_user, owner=sales_rep, amount="9999"),
        "rob_opp": lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=other_rep, amount="700"),
        "rob_lost": lead_in(Stage.LOST, actor=admin_user, owner=other_rep, amount="300"),
    }
    backdate(leads["bob_old_won"], Stage.WON, days=120)
    backdate(leads["bob_sql"], Stage.SQL, days=6)
    return leads


def test_a_rep_sees_their_own_board_by_default(client, sales_rep, board_leads):
    client.force_login(sales_rep)

    columns = _columns(client.get(reverse("funnel:pipeline")))

    assert [card.pk for card in columns[Stage.SQL].cards] == [board_leads["bob_sql"].pk]
    assert columns[Stage.SQL].cards[0].days_in_stage == 6
    assert columns[Stage.SQL].total is None
    assert columns[Stage.OPPORTUNITY].count == 2
    assert columns[Stage.OPPORTUNITY].total == Decimal("1250.50")
    # The win of 120 days ago is outside the default 90 days.
    assert [card.pk for card in columns[Stage.WON].cards] == [board_leads["bob_won"].pk]
    assert columns[Stage.LOST].count == 0


def test_a_manager_sees_everyones_board_by_default(client, sales_manager, board_leads):
    client.force_login(sales_manager)

    columns = _columns(client.get(reverse("funnel:pipeline")))

    assert columns[Stage.OPPORTUNITY].count == 3
    assert columns[Stage.LOST].total == Decimal("300")


@pytest.mark.parametrize("owner", ["all", "bob", "rob"])
@pytest.mark.parametrize("period", [30, 365])
def test_counts_and_amounts_equal_a_direct_recomputation(
    client, sales_rep, other_rep, board_leads, owner, period
):
    owner_id = {"all": None, "bob": sales_rep.pk, "rob": other_rep.pk}[owner]
    client.force_login(sales_rep)

    response = client.get(
        reverse("funnel:pipeline"), {"owner": owner_id or "all", "period": period}
    )

    expected = _recomputed(owner_id, period)
    for stage, column in _columns(response).items():
        count, total = expected.get(stage, (0, None))
        assert column.count == count, stage
        assert column.total == (total if column.has_amount else None), stage


def test_a_period_brings_older_outcomes_in(client, sales_rep, board_leads):
    client.force_login(sales_rep)

    columns = _columns(client.get(reverse("funnel:pipeline"), {"period": 365}))

    assert columns[Stage.WON].count == 2
    assert columns[Stage.WON].total == Decimal("14999")


def test_an_unknown_owner_or_period_is_reported_and_the_default_board_shown(
    client, sales_rep, board_leads
):
    client.force_login(sales_rep)

    response = client.get(reverse("funnel:pipeline"), {"owner": "999999", "period": "7"})

    assert response.status_code == 400
    assert "The filter was not understood" in response.content.decode()
    assert _columns(response)[Stage.OPPORTUNITY].count == 2


def test_cards_carry_a_button_to_the_next_step_that_comes_back_to_the_board(
    client, sales_rep, board_leads
):
    client.force_login(sales_rep)

    page = client.get(reverse("funnel:pipeline")).content.decode()

    offer = reverse("activities:move", args=[board_leads["bob_sql"].pk, "offer"])
    won = reverse("activities:move", args=[board_leads["bob_opp"].pk, "won"])
    lost = reverse("activities:move", args=[board_leads["bob_opp"].pk, "lost"])
    assert f"{offer}?next=/funnel/pipeline/" in page
    assert won in page and lost in page


def test_a_long_column_is_cut_with_how_many_more(client, sales_manager, board_leads, monkeypatch):
    monkeypatch.setattr(pipeline, "CARD_LIMIT", 1)
    client.force_login(sales_manager)

    response = client.get(reverse("funnel:pipeline"))

    column = _columns(response)[Stage.OPPORTUNITY]
    assert (len(column.cards), column.count, column.more) == (1, 3, 2)
    assert "and 2 more" in response.content.decode()


def _queries_for_board(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("funnel:pipeline")).status_code == 200
    return len(queries)


def test_the_board_takes_the_same_few_queries_for_3_or_30_cards(client, sales_manager, admin_user):
    for _ in range(3):
        lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=admin_user)
    client.force_login(sales_manager)
    few = _queries_for_board(client)

    for _ in range(27):
        lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_manager)
    many = _queries_for_board(client)

    assert many == few
    assert few <= 12


def test_a_marketer_may_not_see_the_board(client, marketer):
    client.force_login(marketer)

    assert client.get(reverse("funnel:pipeline")).status_code == 403


def test_the_board_shows_days_in_stage_and_close_date(client, sales_rep, board_leads):
    client.force_login(sales_rep)
    close = timezone.localdate() + timedelta(days=30)

    page = client.get(reverse("funnel:pipeline")).content.decode()

    assert f'datetime="{close.isoformat()}"' in page
    assert "6 days" in page


def test_the_board_reads_the_refreshed_read_model_and_shows_a_later_move_at_once(
    client, sales_rep, admin_user, board_leads
):
    from funnel.metrics import refresh_read_model
    from scoring.models import StageTransition

    # Settle the history so the refresh takes it in, as the minute task does.
    StageTransition.objects.update(occurred_at=timezone.now() - timedelta(days=1))
    backdate(board_leads["bob_old_won"], Stage.WON, days=120)
    Lead.objects.update(created_at=timezone.now() - timedelta(days=2))
    refresh_read_model()
    client.force_login(sales_rep)
    columns = _columns(client.get(reverse("funnel:pipeline")))
    expected = _recomputed(sales_rep.pk)
    assert {s: (c.count, c.total) for s, c in columns.items() if c.count} == expected

    # A move after the refresh counts at once, with its offer.
    lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep, amount="42")
    columns = _columns(client.get(reverse("funnel:pipeline")))
    expected = _recomputed(sales_rep.pk)
    assert {s: (c.count, c.total) for s, c in columns.items() if c.count} == expected
    assert expected[Stage.OPPORTUNITY][0] == 3
