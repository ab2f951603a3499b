"""The pipeline board: sales-qualified leads, opportunities and recent outcomes as columns,
with counts and amounts, and a button per card to move it on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.decorators import permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from activities.forms import PipelineFilterForm, StageAction
from activities.services import may_move
from activities.templatetags.activities_tags import available_actions
from funnel import metrics
from leads.filters import possible_owners
from leads.models import Lead, Stage
from scoring.models import CriteriaVersion
from scoring.services import stage_owners

COLUMNS = [Stage.SQL, Stage.OPPORTUNITY, Stage.WON, Stage.LOST]
OPEN_STAGES = [Stage.SQL, Stage.OPPORTUNITY]
OUTCOME_STAGES = [Stage.WON, Stage.LOST]
# A column longer than this is a list to filter, not a board to read.
CARD_LIMIT = 100
DEFAULT_PERIOD_DAYS = 90


def board_rows(*, owner_id: int | None, since: datetime) -> tuple[str, dict]:
    """SQL and parameters: the leads on the board, one row each (lead_id, stage, entered_at,
    amount, expected_close): every SQL and opportunity, and the won and lost ones that got
    there since `since`. Read from the funnel's LeadMilestone, with the leads changed after
    its watermark computed from the history, so a move shows at once. The amount and close
    date are the offer of the latest move into opportunity, none for an SQL."""
    # Stage lists spelled out (constants, not parameters): SQLite has no arrays.
    columns = ", ".join(f"'{stage.value}'" for stage in COLUMNS)
    open_stages = ", ".join(f"'{stage.value}'" for stage in OPEN_STAGES)
    where = f"stage IN ({columns}) AND (stage IN ({open_stages}) OR stage_since >= %(since)s)"
    params = metrics._marks(metrics._watermark()) | {"since": metrics.db_datetime(since)}
    if owner_id is not None:
        where += " AND owner_id = %(owner)s"
        params["owner"] = owner_id
    sql = f"""
        SELECT lead_id, stage, stage_since AS entered_at,
               CASE WHEN stage = 'sql' THEN NULL ELSE offer_amount END AS amount,
               CASE WHEN stage = 'sql' THEN NULL ELSE offer_close_date END AS expected_close
        FROM ({metrics.current_milestones(where=where)}) m
        -- Merged leads are off the board; they are few, so this is one small hashed list.
        WHERE lead_id NOT IN (SELECT id FROM leads_lead WHERE merged_into_id IS NOT NULL)
    """
    return sql, params


ORDER = {
    # Oldest waiting first: an SQL without an offer is ageing.
    Stage.SQL: "entered_at, lead_id",
    # Closing soonest first.
    Stage.OPPORTUNITY: "expected_close ASC NULLS LAST, lead_id",
    Stage.WON: "entered_at DESC, lead_id DESC",
    Stage.LOST: "entered_at DESC, lead_id DESC",
}


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal | None = None
    cards: list[Lead] = field(default_factory=list)
    actions: list[StageAction] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(self.count - len(self.cards), 0)

    @property
    def has_amount(self) -> bool:
        return self.stage != Stage.SQL


def board(*, owner_id: int | None, since: datetime, now: datetime | None = None) -> list[Column]:
    """The columns of the board: one query for the counts, amounts and first CARD_LIMIT
    cards of every column, one for those cards' leads, however many leads there are."""
    now = now or timezone.now()
    rows, params = board_rows(owner_id=owner_id, since=since)
    columns = {stage: Column(stage=stage) for stage in COLUMNS}
    # Each column's cards as a subquery: SQLite takes no parenthesised ORDER BY ... LIMIT
    # in a UNION.
    ranked = " UNION ALL ".join(
        f"SELECT * FROM (SELECT lead_id, stage, entered_at, amount, expected_close FROM b"
        f" WHERE stage = '{stage.value}' ORDER BY {ORDER[stage]} LIMIT {CARD_LIMIT}) c"
        for stage in COLUMNS
    )
    # One statement: the board's rows are found once for the totals and the cards.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH b AS MATERIALIZED ({rows})
            SELECT count(*), stage, CAST(NULL AS timestamp), sum(amount), CAST(NULL AS date)
            FROM b GROUP BY stage
            UNION ALL {ranked}
            """,
            params,
        )
        result = cursor.fetchall()
    if metrics.sqlite():  # text and floats there
        result = [
            (
                first,
                stage,
                metrics.to_datetime(entered_at),
                None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
                metrics.to_date(expected_close),
            )
            for first, stage, entered_at, amount, expected_close in result
        ]
    cards = []
    for row in result:
        if row[2] is None:  # a total
            column = columns[Stage(row[1])]
            column.count = row[0]
            column.total = row[3] if column.has_amount else None
        else:
            cards.append(row)
    leads = Lead.objects.select_related("owner").in_bulk([row[0] for row in cards])
    for lead_id, stage, entered_at, amount, expected_close in cards:
        lead = leads.get(lead_id)
        if lead is None:  # erased since the last refresh
            continue
        lead.entered_at, lead.amount, lead.expected_close = entered_at, amount, expected_close
        lead.days_in_stage = max((now - entered_at).days, 0)
        columns[Stage(stage)].cards.append(lead)
    return list(columns.values())


def _owner_choices(user) -> list[tuple[str, str]]:
    users = [(str(u.pk), u.get_full_name() or u.get_username()) for u in possible_owners()]
    if str(user.pk) not in dict(users):
        users.insert(0, (str(user.pk), user.get_full_name() or user.get_username()))
    return [("all", _("Everyone")), *users]


@permission_required("leads.work_sales_queue", raise_exception=True)
@require_safe
def pipeline(request: HttpRequest) -> HttpResponse:
    """The board. Sales managers see everyone's leads by default, reps their own; either can
    pick an owner (?owner=<id> or all) and how far back won and lost go (?period=<days>)."""
    sees_everyone = request.user.has_perm("leads.assign_leads")
    owners = _owner_choices(request.user)
    form = PipelineFilterForm(request.GET or None)
    form.fields["owner"].choices = owners
    status = 200
    owner, period = ("all" if sees_everyone else str(request.user.pk)), DEFAULT_PERIOD_DAYS
    if form.is_bound:
        if form.is_valid():
            owner = form.cleaned_data["owner"] or owner
            period = form.cleaned_data["period"] or period
        else:
            status = 400
    now = timezone.now()
    columns = board(
        owner_id=None if owner == "all" else int(owner), since=now - timedelta(days=period), now=now
    )
    policy = stage_owners(CriteriaVersion.objects.active(), timezone.localdate())
    for column in columns:
        column.actions = available_actions(column.stage, request.user, policy)
        # Buttons only for the moves this person may make on the card: on their own leads,
        # any for a manager, accepting (claiming) an unowned MQL.
        for card in column.cards:
            card.actions = [
                action
                for action in column.actions
                if may_move(
                    card, request.user, from_stage=action.from_stage, to_stage=action.to_stage
                )
            ]
    return render(
        request,
        "activities/pipeline.html",
        {
            "columns": columns,
            "form": form,
            "owner": owner,
            "owners": owners,
            "period": period,
            "periods": form.fields["period"].choices,
            "today": timezone.localdate(),
            "limit": CARD_LIMIT,
            "board_url": request.get_full_path(),
        },
        status=status,
    )
