"""The funnel dashboard's numbers, and the read model that makes them fast.

Definitions (shared with the quota calculator, see the issue): a lead entered stage S at its
first StageTransition into S (contact: at Lead.created_at); it reached S when it entered S
or a later funnel stage, at the earliest of those moments. Periods are half-open local days.

Speed: a 12-month dashboard cannot scan a million leads and three million transitions per
request, so two tables hold what it needs. LeadMilestone keeps, per lead, when it entered
each stage; FunnelFact keeps counts of those milestones per day, stage, source, campaign and
owner (CONTRIBUTIONS below says which). The refresh (every minute) recomputes the milestones
of the leads that changed since its watermark and moves their counts in FunnelFact; the
dashboard adds the same correction on the fly for whatever happened after the watermark,
so it is exact without waiting for the refresh.

Distributions (days in a stage, days to reach a stage) are kept as counts per whole day, so
medians and p90s are nearest-rank percentiles over whole days (PostgreSQL's
percentile_disc over floor(days)).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from funnel.models import FactKind, FunnelRejection, FunnelWatermark, LeadMilestone
from leads.models import FUNNEL_STAGES, Stage

FUNNEL = [stage.value for stage in FUNNEL_STAGES]
NEXT = dict(zip(FUNNEL, FUNNEL[1:], strict=False))
COHORT_STAGES = ["mql", "sql", "opportunity", "won"]
ALL_STAGES = [stage.value for stage in Stage]
# Stages a lead can get stuck in; won and lost are outcomes, not waiting rooms.
AGEING_STAGES = ["contact", "lead", "mql", "sql", "opportunity", "nurture"]
# The refresh leaves the newest minutes to the next run: a transaction that took an id
# earlier may commit later, and its rows must not fall behind the watermark unseen.
SETTLE_SECONDS = 300
LOCK_KEY = 7_406_001  # pg_advisory_xact_lock: one refresh at a time


def _zone() -> str:
    return settings.TIME_ZONE


# The SQL is written for PostgreSQL, where it is benchmarked; `make run` serves the same
# pages on SQLite, so what SQLite cannot say (time zones, intervals, jsonb, arrays, LATERAL)
# has a spelling of its own there, with the same results. SQLite stores datetimes as UTC
# text and dates as 'YYYY-MM-DD' text; Django registers the django_* functions used below.


def sqlite() -> bool:
    return connection.vendor == "sqlite"


def _day(expression: str) -> str:
    if sqlite():
        return f"django_datetime_cast_date({expression}, '{_zone()}', 'UTC')"
    return f"(({expression}) AT TIME ZONE '{_zone()}')::date"


def _days(start: str, end: str) -> str:
    if sqlite():  # django_timestamp_diff: exact microseconds, as extract(epoch) is exact
        return f"CAST(FLOOR(django_timestamp_diff({end}, {start}) / 86400000000.0) AS integer)"
    return f"floor(extract(epoch from (({end}) - ({start}))) / 86400)::int"


def month_of(day: str) -> str:
    """SQL: the first day of the month of a date."""
    if sqlite():
        return f"substr({day}, 1, 8) || '01'"  # 'YYYY-MM-DD' text; no % in parameterised SQL
    return f"date_trunc('month', {day})::date"


def _least(expressions: list[str]) -> str:
    """SQL: the earliest of these timestamps, ignoring NULLs (as PostgreSQL's LEAST)."""
    if sqlite():  # SQLite's MIN(a, b) is NULL if any is; its timestamps are text, '9' > all
        values = ", ".join(f"COALESCE({e}, '9')" for e in expressions)
        return f"NULLIF(MIN({values}), '9')"
    return f"LEAST({', '.join(expressions)})"


def temporary(definition: str) -> str:
    """SQL: create a temporary table that goes with the transaction where that exists."""
    name, rest = definition.split(None, 1)
    if sqlite():
        return f"CREATE TEMPORARY TABLE {name} {rest}"
    if rest.split(None, 1)[0] == "AS":
        return f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP {rest}"
    return f"CREATE TEMPORARY TABLE {name} {rest} ON COMMIT DROP"


def lock_read_model(cursor) -> None:
    """One writer of the read model at a time (SQLite has a single writer anyway)."""
    if not sqlite():
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def to_date(value) -> date | None:
    """A date column of a raw query: SQLite returns its text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def to_datetime(value) -> datetime | None:
    """A datetime column of a raw query: SQLite returns UTC, as text or a naive datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def db_datetime(value: datetime):
    """A datetime parameter for a raw query (SQLite compares its UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def _entered(stage: str) -> str:
    return "m.created_at" if stage == "contact" else f"m.entered_{stage}"


def _reached(stage: str) -> str:
    later = FUNNEL[FUNNEL.index(stage) :]
    return _least([_entered(s) for s in later]) if len(later) > 1 else _entered(stage)


def _contribution_values() -> list[tuple[int, str, str, str]]:
    """The fact rows one milestone row stands for: (kind, day, stage, days), NULL day = none."""
    rows = []
    for stage in FUNNEL:
        rows.append((FactKind.ENTERED, _day(_entered(stage)), f"'{stage}'", "0"))
    for stage, following in NEXT.items():
        rows.append(
            (
                FactKind.REACHED_NEXT,
                f"CASE WHEN {_reached(following)} IS NOT NULL THEN {_day(_entered(stage))} END",
                f"'{stage}'",
                "0",
            )
        )
        this, then = _entered(stage), _entered(following)
        rows.append(
            (
                FactKind.LEFT,
                f"CASE WHEN {then} >= {this} THEN {_day(then)} END",
                f"'{stage}'",
                _days(this, then),
            )
        )
    for stage in COHORT_STAGES:
        rows.append(
            (
                FactKind.COHORT,
                f"CASE WHEN {_reached(stage)} IS NOT NULL THEN {_day('m.created_at')} END",
                f"'{stage}'",
                _days("m.created_at", _reached(stage)),
            )
        )
    rows.append((FactKind.CURRENT, _day("m.stage_since"), "m.stage", "0"))
    return rows


def contributions(milestones_sql: str, sign: int) -> str:
    """SQL: one row per fact a milestone row contributes, with n = sign."""
    if sqlite():  # no LATERAL: one SELECT per fact over the milestones, computed once
        selects = "\nUNION ALL ".join(
            f"SELECT {kind.value} AS kind, {day} AS day, {stage} AS stage, m.source, m.campaign,"
            f" COALESCE(m.owner_id, 0) AS owner_id, COALESCE({days}, 0) AS days, {sign} AS n"
            " FROM m"
            for kind, day, stage, days in _contribution_values()
        )
        return f"""
            SELECT kind, day, stage, source, campaign, owner_id, days, n FROM (
                WITH m AS MATERIALIZED ({milestones_sql})
                SELECT * FROM ({selects}) f
            ) f WHERE day IS NOT NULL
        """
    values = ",\n".join(
        f"({kind}, {day}, {stage}, {days})" for kind, day, stage, days in _contribution_values()
    )
    return f"""
        SELECT f.kind, f.day, f.stage, m.source, m.campaign,
               COALESCE(m.owner_id, 0) AS owner_id, COALESCE(f.days, 0) AS days, {sign} AS n
        FROM ({milestones_sql}) m
        CROSS JOIN LATERAL (VALUES {values}) AS f(kind, day, stage, days)
        WHERE f.day IS NOT NULL
    """


MILESTONE_COLUMNS = [
    "lead_id", "created_at", "source", "campaign", "owner_id", "stage", "stage_since",
    *(f"entered_{stage}" for stage in ALL_STAGES if stage != "contact"),
    "offer_amount", "offer_close_date",
]  # fmt: skip


def fresh_milestones(lead_ids_sql: str) -> str:
    """SQL: the milestone rows of these leads, computed now from Lead and StageTransition.
    Merged-away leads have none: a duplicate is counted through its survivor only."""
    entered = ",\n".join(
        f"MIN(t.occurred_at) FILTER (WHERE t.to_stage = '{stage}') AS entered_{stage}"
        for stage in ALL_STAGES
        if stage != "contact"
    )
    return f"""
        SELECT l.id AS lead_id, l.created_at, l.source, l.campaign, l.owner_id, l.stage,
               COALESCE(MAX(t.occurred_at) FILTER (WHERE t.to_stage = l.stage), l.created_at)
                   AS stage_since,
               {entered},
               {_offer_columns()}
        FROM leads_lead l LEFT JOIN scoring_stagetransition t ON t.lead_id = l.id
        WHERE l.id IN ({lead_ids_sql}) AND l.merged_into_id IS NULL
        GROUP BY l.id
    """


def _offer_columns() -> str:
    if sqlite():  # no array_agg: the latest move into opportunity, looked up per lead
        latest = (
            "(SELECT json_extract(o.details, '$.offer.{key}') FROM scoring_stagetransition o"
            " WHERE o.lead_id = l.id AND o.to_stage = 'opportunity'"
            " ORDER BY o.occurred_at DESC, o.id DESC LIMIT 1)"
        )
        return (
            f"ROUND(CAST({latest.format(key='amount')} AS REAL), 2) AS offer_amount,"
            f" date({latest.format(key='expected_close_date')}) AS offer_close_date"
        )
    return (
        f"({_latest_offer('amount')})::numeric(16, 2) AS offer_amount,"
        f" ({_latest_offer('expected_close_date')})::date AS offer_close_date"
    )


def _latest_offer(key: str) -> str:
    return (
        f"(array_agg(t.details -> 'offer' ->> '{key}' ORDER BY t.occurred_at DESC, t.id DESC)"
        " FILTER (WHERE t.to_stage = 'opportunity'))[1]"
    )


def stored_milestones(lead_ids_sql: str) -> str:
    return f"SELECT * FROM funnel_leadmilestone WHERE lead_id IN ({lead_ids_sql})"


def current_milestones(*, where: str = "TRUE") -> str:
    """SQL: every lead's milestone row as of now (needs the _marks() parameters): the stored
    row unless the lead changed after the watermark, then one computed from the history.
    `where` filters both on milestone columns."""
    columns = ", ".join(MILESTONE_COLUMNS)
    return f"""
        SELECT {columns} FROM funnel_leadmilestone
        WHERE lead_id NOT IN ({DIRTY_LEADS}) AND ({where})
        UNION ALL
        SELECT {columns} FROM ({fresh_milestones(DIRTY_LEADS)}) f WHERE ({where})
    """


def _rejection() -> str:
    """SQL: the transition t is a rejection: an MQL sent back to nurture or disqualified
    with a rejection reason."""
    has_reason = (
        "json_type(t.details, '$.rejection') IS NOT NULL" if sqlite() else "t.details ? 'rejection'"
    )
    return f"t.to_stage IN ('nurture', 'disqualified') AND t.from_stage = 'mql' AND {has_reason}"


NOT_MET = "('0', '0.0', 'false', 'null', '')"


def _criteria_met(points: str) -> str:
    """SQL: the 0-based positions of the criteria a LeadScore.points array counts as met (on
    SQLite a JSON array: it has no arrays)."""
    if sqlite():  # json_each gives SQL values; spelled as jsonb_array_elements_text would
        return f"""(
            SELECT json_group_array(p.key)
            FROM json_each(CASE WHEN json_type({points}) = 'array' THEN {points} ELSE '[]' END) p
            WHERE (CASE p.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                   ELSE CAST(p.value AS TEXT) END) NOT IN {NOT_MET}
        )"""
    return f"""ARRAY(
        SELECT (p.position - 1)::smallint
        FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof({points}) = 'array' THEN {points} ELSE '[]'::jsonb END
        ) WITH ORDINALITY AS p(value, position)
        WHERE p.value NOT IN {NOT_MET} ORDER BY p.position
    )"""


REJECTION_COLUMNS = [
    "transition_id", "lead_id", "day", "reason", "source", "campaign", "owner_id",
    "scored_version", "criteria",
]  # fmt: skip


def fresh_rejections(lead_ids_sql: str) -> str:
    """SQL: the rejection rows of these leads, computed now from StageTransition and Lead."""
    return f"""
        SELECT t.id AS transition_id, t.lead_id, {_day("t.occurred_at")} AS day,
               {_reason()} AS reason, l.source, l.campaign, l.owner_id,
               s.version AS scored_version, {_criteria_met("s.points")} AS criteria
        FROM scoring_stagetransition t JOIN leads_lead l ON l.id = t.lead_id
        LEFT JOIN scoring_leadscore s ON s.lead_id = t.lead_id
        WHERE {_rejection()} AND t.lead_id IN ({lead_ids_sql}) AND l.merged_into_id IS NULL
    """


def _reason() -> str:
    return "json_extract(t.details, '$.rejection')" if sqlite() else "t.details ->> 'rejection'"


def current_rejections(*, where: str = "TRUE") -> str:
    """SQL: every rejection as of now (needs the _marks() parameters), as current_milestones."""
    columns = ", ".join(REJECTION_COLUMNS)
    return f"""
        SELECT {columns} FROM funnel_funnelrejection
        WHERE lead_id NOT IN ({DIRTY_LEADS}) AND ({where})
        UNION ALL
        SELECT {columns} FROM ({fresh_rejections(DIRTY_LEADS)}) f WHERE ({where})
    """


# Merging writes no history row; a merged-away duplicate still holding a milestone row is
# dirty until the refresh drops it (the read model, like the quota calculator, leaves
# merged-away leads out). Few leads are merged, and once refreshed they hold no row, so the
# join stays small (leads_lead's merged_into index, then the milestone primary key).
DIRTY_LEADS = """
    SELECT lead_id FROM scoring_stagetransition WHERE id > %(wt)s
    UNION SELECT lead_id FROM leads_ownerchange WHERE id > %(wo)s
    UNION SELECT id FROM leads_lead WHERE id > %(wl)s
    UNION SELECT m.lead_id FROM funnel_leadmilestone m JOIN leads_lead l ON l.id = m.lead_id
          WHERE l.merged_into_id IS NOT NULL
"""


def _watermark(*, lock: bool = False) -> FunnelWatermark:
    queryset = FunnelWatermark.objects.select_for_update() if lock else FunnelWatermark.objects
    mark = queryset.filter(pk=1).first()
    if mark is None and not lock:
        return FunnelWatermark(pk=1)  # nothing refreshed yet: all of it is after the mark
    if mark is None:
        mark, _created = FunnelWatermark.objects.get_or_create(pk=1)
    return mark


def _marks(mark: FunnelWatermark) -> dict:
    return {
        "wt": mark.last_transition_id,
        "wo": mark.last_owner_change_id,
        "wl": mark.last_lead_id,
    }


# --- Keeping the read model up to date -------------------------------------------------------


@dataclass
class RefreshResult:
    leads: int
    watermark: int


def _move_facts(cursor, milestones_sql: str, sign: int, params: dict) -> None:
    cursor.execute("DROP TABLE IF EXISTS funnel_moved")
    cursor.execute(
        temporary(
            f"""funnel_moved AS
            SELECT kind, day, stage, source, campaign, owner_id, days, CAST(SUM(n) AS integer) AS n
            FROM ({contributions(milestones_sql, sign)}) c
            GROUP BY kind, day, stage, source, campaign, owner_id, days
            """
        ),
        params,
    )
    # WHERE TRUE: SQLite needs a WHERE before ON CONFLICT to parse it.
    cursor.execute(
        """
        INSERT INTO funnel_funnelfact (kind, day, stage, source, campaign, owner_id, days, count)
        SELECT kind, day, stage, source, campaign, owner_id, days, n FROM funnel_moved WHERE TRUE
        ON CONFLICT (kind, day, stage, source, campaign, owner_id, days)
        DO UPDATE SET count = funnel_funnelfact.count + EXCLUDED.count
        """
    )
    cursor.execute(
        f"""
        INSERT INTO funnel_funnelmonthfact
            (kind, month, stage, source, campaign, owner_id, days, count)
        SELECT kind, {month_of("day")}, stage, source, campaign, owner_id, days, SUM(n)
        FROM funnel_moved WHERE TRUE GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (kind, month, stage, source, campaign, owner_id, days)
        DO UPDATE SET count = funnel_funnelmonthfact.count + EXCLUDED.count
        """
    )
    cursor.execute("DROP TABLE funnel_moved")


def _settled_mark(cursor, table: str, time_column: str, mark: int, settled: datetime) -> int:
    """How far the watermark of `table` may move: to its newest row older than `settled`,
    but never past a young gap.

    The age rule assumes a row's time is about its commit time. A transaction that holds an
    id and commits late breaks that: its id is missing while later ids are already visible
    (a backdated row, or a long transaction stamped with its start, may even be old). So a
    missing id followed by a row younger than SETTLE_SECONDS stops the watermark just before
    it: the holder is probably still running. An id of a rolled-back transaction never
    appears; once the rows after its gap are old, the gap counts as settled and is passed."""
    cursor.execute(
        f"""
        WITH after AS (
            SELECT id, {time_column} AS at, LAG(id, 1, %(mark)s) OVER (ORDER BY id) AS previous
            FROM {table} WHERE id > %(mark)s
        )
        SELECT COALESCE(MAX(id) FILTER (WHERE at < %(settled)s), %(mark)s),
               MIN(previous) FILTER (WHERE id > previous + 1 AND at >= %(settled)s)
        FROM after
        """,
        {"mark": mark, "settled": db_datetime(settled)},
    )
    newest_settled, before_gap = cursor.fetchone()
    return newest_settled if before_gap is None else min(newest_settled, before_gap)


def refresh_read_model() -> RefreshResult:
    """Bring LeadMilestone and FunnelFact up to date with every lead and transition older
    than SETTLE_SECONDS, plus attribute changes (source, campaign, owner) and erased leads.
    Safe to run concurrently (the second waits) and to run twice."""
    with transaction.atomic(), connection.cursor() as cursor:
        lock_read_model(cursor)
        mark = _watermark(lock=True)
        settled = timezone.now() - timedelta(seconds=SETTLE_SECONDS)
        new_wt = _settled_mark(
            cursor, "scoring_stagetransition", "occurred_at", mark.last_transition_id, settled
        )
        new_wo = _settled_mark(
            cursor, "leads_ownerchange", "changed_at", mark.last_owner_change_id, settled
        )
        new_wl = _settled_mark(cursor, "leads_lead", "created_at", mark.last_lead_id, settled)
        # Inside an outer transaction (tests, a caller's atomic block) ON COMMIT comes late.
        cursor.execute("DROP TABLE IF EXISTS funnel_dirty")
        cursor.execute(temporary("funnel_dirty (lead_id bigint PRIMARY KEY)"))
        cursor.execute(
            f"INSERT INTO funnel_dirty SELECT lead_id FROM ({DIRTY_LEADS}) d"
            " WHERE TRUE ON CONFLICT DO NOTHING",
            _marks(mark),
        )
        # Changes that write no history row (an edited source, an erased lead): found by
        # comparison, which costs a scan of both tables, fine once a minute.
        cursor.execute(
            """
            INSERT INTO funnel_dirty
            SELECT m.lead_id FROM funnel_leadmilestone m
            LEFT JOIN leads_lead l ON l.id = m.lead_id
            WHERE l.id IS NULL OR (l.source, l.campaign, l.owner_id)
                IS DISTINCT FROM (m.source, m.campaign, m.owner_id)
            ON CONFLICT DO NOTHING
            """
        )
        # A rescored lead's criteria: compared for the leads with a rejection only.
        cursor.execute(
            f"""
            INSERT INTO funnel_dirty
            SELECT DISTINCT r.lead_id FROM funnel_funnelrejection r
            LEFT JOIN leads_lead l ON l.id = r.lead_id
            LEFT JOIN scoring_leadscore s ON s.lead_id = r.lead_id
            WHERE l.id IS NULL OR (s.version, {_criteria_met("s.points")})
                IS DISTINCT FROM (r.scored_version, r.criteria)
            ON CONFLICT DO NOTHING
            """
        )
        if not sqlite():
            cursor.execute("ANALYZE funnel_dirty")
        dirty = "SELECT lead_id FROM funnel_dirty"
        _move_facts(cursor, stored_milestones(dirty), -1, {})
        cursor.execute(f"DELETE FROM funnel_leadmilestone WHERE lead_id IN ({dirty})")
        columns = ", ".join(MILESTONE_COLUMNS)
        cursor.execute(
            f"INSERT INTO funnel_leadmilestone ({columns}) "
            f"SELECT {columns} FROM ({fresh_milestones(dirty)}) f"
        )
        _move_facts(cursor, stored_milestones(dirty), +1, {})
        cursor.execute("DELETE FROM funnel_funnelfact WHERE count = 0")
        cursor.execute("DELETE FROM funnel_funnelmonthfact WHERE count = 0")
        cursor.execute(f"DELETE FROM funnel_funnelrejection WHERE lead_id IN ({dirty})")
        rejection_columns = ", ".join(REJECTION_COLUMNS)
        cursor.execute(
            f"INSERT INTO funnel_funnelrejection ({rejection_columns}) "
            f"SELECT {rejection_columns} FROM ({fresh_rejections(dirty)}) f"
        )
        cursor.execute("SELECT count(*) FROM funnel_dirty")
        count = cursor.fetchone()[0]
        cursor.execute("DROP TABLE funnel_dirty")
        mark.last_transition_id, mark.last_owner_change_id, mark.last_lead_id = (
            new_wt,
            new_wo,
            new_wl,
        )
        mark.refreshed_at = timezone.now()
        mark.save()
    return RefreshResult(leads=count, watermark=new_wt)


def rebuild_read_model() -> None:
    """Recompute both tables from scratch (after a restore, or to prove the refresh)."""
    with transaction.atomic(), connection.cursor() as cursor:
        lock_read_model(cursor)
        mark = _watermark(lock=True)
        tables = [
            "funnel_leadmilestone",
            "funnel_funnelfact",
            "funnel_funnelmonthfact",
            "funnel_funnelrejection",
        ]
        if sqlite():
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        else:
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        mark.last_transition_id = mark.last_owner_change_id = mark.last_lead_id = 0
        mark.save()
    refresh_read_model()


# --- Reading: filters and periods -------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows: local days [start, end) and optional attributes."""

    start: date
    end: date  # exclusive
    source: str = ""
    campaign: str = ""
    owner_id: int | None = None
    team_id: int | None = None
    ageing_days: int = 30

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as aware datetimes in TIME_ZONE."""
        zone = ZoneInfo(_zone())
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end, time.min, tzinfo=zone),
        )


def today() -> date:
    return timezone.localdate()


PRESETS = ["last_30_days", "this_quarter", "last_12_months"]


def preset_period(name: str, *, on: date | None = None) -> tuple[date, date]:
    """[start, end) of a named period ending today (inclusive)."""
    on = on or today()
    end = on + timedelta(days=1)
    if name == "this_quarter":
        return date(on.year, 3 * ((on.month - 1) // 3) + 1, 1), end
    if name == "last_12_months":
        year, month = (on.year - 1, on.month)
        day = min(on.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=1), end
    return on - timedelta(days=29), end


def _attribute_conditions(filters: Filters, alias: str = "") -> tuple[list[str], dict]:
    prefix = f"{alias}." if alias else ""
    conditions, params = [], {}
    if filters.source:
        conditions.append(f"{prefix}source = %(source)s")
        params["source"] = filters.source
    if filters.campaign:
        conditions.append(f"{prefix}campaign = %(campaign)s")
        params["campaign"] = filters.campaign
    if filters.owner_id is not None:
        conditions.append(f"{prefix}owner_id = %(owner)s")
        params["owner"] = filters.owner_id
    if filters.team_id is not None:
        conditions.append(
            f"{prefix}owner_id IN (SELECT user_id FROM sales_salesteam_members"
            " WHERE salesteam_id = %(team)s)"
        )
        params["team"] = filters.team_id
    return conditions, params


# --- Reading: the numbers ---------------------------------------------------------------------


def percentile(histogram: dict[int, int], share: float) -> int | None:
    """Nearest-rank percentile of whole days: the smallest value whose cumulative count
    reaches `share` of the total (as PostgreSQL's percentile_disc)."""
    total = sum(histogram.values())
    if not total:
        return None
    running = 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= share * total:
            return value
    return max(histogram)


@dataclass
class StageRow:
    stage: str
    label: str
    entered: int
    reached_next: int | None = None
    conversion: float | None = None  # percent, to the next stage


@dataclass
class VelocityRow:
    stage: str
    label: str
    left: int
    median_days: int | None
    p90_days: int | None


@dataclass
class CohortCell:
    reached: int
    share: float | None
    median_days: int | None


@dataclass
class CohortRow:
    month: date
    size: int
    cells: dict[str, CohortCell]

    @property
    def cell_list(self) -> list[CohortCell]:
        return [self.cells[stage] for stage in COHORT_STAGES]


@dataclass
class Dashboard:
    filters: Filters
    stages: list[StageRow]
    velocity: list[VelocityRow]
    ageing: list[tuple[str, str, int]]  # stage, label, leads
    cohorts: list[CohortRow]
    rejections_by_reason: list[tuple[str, str, int]]  # code, label, moves
    rejections_by_source: list[tuple[str, str, int]]
    rejections_by_criterion: list[tuple[int, str, int]]  # version, criterion, leads
    rejections_total: int = 0
    extra: dict = field(default_factory=dict)


def _label(stage: str) -> str:
    return str(Stage(stage).label)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _fact_totals(filters: Filters) -> list[tuple]:
    """(kind, stage, days, month, n) over the facts plus the correction for changes after
    the watermark, within the period (ageing: before the cut-off day).

    Whole calendar months come from FunnelMonthFact, the days of a period's partial first
    and last month from FunnelFact: the same sums, read from a tenth of the rows."""
    mark = _watermark()
    conditions, params = _attribute_conditions(filters)
    cutoff = today() - timedelta(days=filters.ageing_days)
    # Whole months [first, last); when the period holds none, all of it is read by day.
    first = filters.start if filters.start.day == 1 else _next_month(filters.start)
    last = _month_start(filters.end)
    if last <= first:
        first = last = filters.end
    params |= _marks(mark) | {
        "start": filters.start,
        "end": filters.end,
        "first": first,
        "last": last,
        "cutoff": cutoff,
        "cutoff_month": _month_start(cutoff),
    }
    attributes = " AND ".join(["TRUE", *conditions])
    period = (
        f"((kind <> {FactKind.CURRENT} AND day >= %(start)s AND day < %(end)s)"
        f" OR (kind = {FactKind.CURRENT} AND day < %(cutoff)s))"
    )
    # Spelled out per kind and range, so each is a range scan of the key's (kind, day).
    kinds = ", ".join(str(kind.value) for kind in FactKind if kind != FactKind.CURRENT)
    by_day = (
        f"((kind IN ({kinds}) AND ((day >= %(start)s AND day < %(first)s)"
        f" OR (day >= %(last)s AND day < %(end)s)))"
        f" OR (kind = {FactKind.CURRENT} AND day >= %(cutoff_month)s AND day < %(cutoff)s))"
    )
    by_month = (
        f"((kind <> {FactKind.CURRENT} AND month >= %(first)s AND month < %(last)s)"
        f" OR (kind = {FactKind.CURRENT} AND month < %(cutoff_month)s))"
    )
    month = (
        f"CASE WHEN kind = {FactKind.COHORT} OR (kind = {FactKind.ENTERED} AND stage = 'contact')"
        f" THEN {month_of('day')} END"
    )
    dirty = DIRTY_LEADS
    sql = f"""
        SELECT kind, stage, days, month, SUM(n) FROM (
            SELECT kind, stage, days, {month} AS month, count AS n
            FROM funnel_funnelfact WHERE {by_day} AND {attributes}
            UNION ALL
            SELECT kind, stage, days,
                   CASE WHEN kind = {FactKind.COHORT}
                          OR (kind = {FactKind.ENTERED} AND stage = 'contact')
                        THEN month END,
                   count
            FROM funnel_funnelmonthfact WHERE {by_month} AND {attributes}
            UNION ALL
            SELECT kind, stage, days, {month}, n FROM (
                {contributions(fresh_milestones(dirty), +1)}
                UNION ALL {contributions(stored_milestones(dirty), -1)}
            ) c WHERE {period} AND {attributes}
        ) rows
        GROUP BY 1, 2, 3, 4
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if sqlite():
        rows = [(kind, stage, days, to_date(month), n) for kind, stage, days, month, n in rows]
    return rows


def funnel_numbers(filters: Filters) -> dict:
    """Stage counts, conversions, velocity, ageing and cohorts for these filters."""
    entered: dict[str, int] = defaultdict(int)
    reached_next: dict[str, int] = defaultdict(int)
    left: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    ageing: dict[str, int] = defaultdict(int)
    cohort_size: dict[date, int] = defaultdict(int)
    cohort: dict[tuple[date, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for kind, stage, days, month, n in _fact_totals(filters):
        n = int(n)
        if kind == FactKind.ENTERED:
            entered[stage] += n
            if stage == "contact":
                cohort_size[month] += n
        elif kind == FactKind.REACHED_NEXT:
            reached_next[stage] += n
        elif kind == FactKind.LEFT:
            left[stage][days] += n
        elif kind == FactKind.COHORT:
            cohort[(month, stage)][days] += n
        elif kind == FactKind.CURRENT:
            ageing[stage] += n

    stages = []
    for stage in FUNNEL:
        row = StageRow(stage=stage, label=_label(stage), entered=entered[stage])
        if stage in NEXT:
            row.reached_next = reached_next[stage]
            row.conversion = round(100 * row.reached_next / row.entered, 1) if row.entered else None
        stages.append(row)
    velocity = []
    for stage in NEXT:
        histogram = {days: n for days, n in left[stage].items() if n}
        velocity.append(
            VelocityRow(
                stage=stage,
                label=_label(stage),
                left=sum(histogram.values()),
                median_days=percentile(histogram, 0.5),
                p90_days=percentile(histogram, 0.9),
            )
        )
    cohorts = []
    for month in _months(filters.start, filters.end):
        size = cohort_size.get(month, 0)
        cells = {}
        for stage in COHORT_STAGES:
            histogram = {d: n for d, n in cohort.get((month, stage), {}).items() if n}
            count = sum(histogram.values())
            cells[stage] = CohortCell(
                reached=count,
                share=round(100 * count / size, 1) if size else None,
                median_days=percentile(histogram, 0.5),
            )
        cohorts.append(CohortRow(month=month, size=size, cells=cells))
    return {
        "stages": stages,
        "velocity": velocity,
        "ageing": [(stage, _label(stage), ageing.get(stage, 0)) for stage in AGEING_STAGES],
        "cohorts": cohorts,
    }


def _months(start: date, end: date) -> list[date]:
    months, month = [], start.replace(day=1)
    while month < end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def rejections(filters: Filters) -> dict:
    """MQLs sales sent back (to nurture or disqualified, with a rejection reason) within the
    period: by reason, by source, and per criterion the lead met in its scored version.
    Read from FunnelRejection, corrected for the leads changed after the watermark."""
    from leads.models import Source
    from scoring.models import CriteriaVersion, RejectionReason
    from scoring.services import rules_of

    conditions, params = _attribute_conditions(filters)
    params |= _marks(_watermark()) | {"start": filters.start, "end": filters.end}
    where = " AND ".join(["day >= %(start)s AND day < %(end)s", *conditions])
    # SQLite keeps the criteria as a JSON array.
    criteria, position = (
        ("json_each(r.criteria) AS c", "c.value")
        if sqlite()
        else ("LATERAL unnest(r.criteria) AS c(position)", "c.position")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH r AS MATERIALIZED ({current_rejections(where=where)})
            SELECT 1, reason, CAST(NULL AS integer), CAST(NULL AS integer), count(*)
            FROM r GROUP BY reason
            UNION ALL
            SELECT 2, source, NULL, NULL, count(*) FROM r GROUP BY source
            UNION ALL
            SELECT 3, NULL, r.scored_version, {position}, count(*)
            FROM r CROSS JOIN {criteria}
            WHERE r.scored_version IS NOT NULL GROUP BY 3, 4
            """,
            params,
        )
        rows = cursor.fetchall()
    by_reason = sorted(((code, n) for part, code, _v, _p, n in rows if part == 1),
                       key=lambda row: (-row[1], row[0]))  # fmt: skip
    by_source = sorted(((code, n) for part, code, _v, _p, n in rows if part == 2),
                       key=lambda row: (-row[1], row[0]))  # fmt: skip
    by_position = sorted(((v, p, n) for part, _c, v, p, n in rows if part == 3),
                         key=lambda row: (-row[2], row[0], row[1]))  # fmt: skip
    reasons = dict(RejectionReason.choices)
    sources = dict(Source.choices)
    names: dict[int, list[str]] = {}
    for version in CriteriaVersion.objects.filter(
        number__in={number for number, _position, _n in by_position}
    ):
        names[version.number] = [rule.name for rule in rules_of(version).rules]
    by_criterion = []
    for number, position, count in by_position:
        rules = names.get(number, [])
        name = rules[position] if position < len(rules) else f"#{position + 1}"
        by_criterion.append((number, name, count))
    return {
        "rejections_by_reason": [
            (code, str(reasons.get(code, code)), count) for code, count in by_reason
        ],
        "rejections_by_source": [
            (code, str(sources.get(code, code or "—")), count) for code, count in by_source
        ],
        "rejections_by_criterion": by_criterion,
        "rejections_total": sum(count for _code, count in by_reason),
    }


def dashboard(filters: Filters) -> Dashboard:
    """Every number of the funnel dashboard for these filters."""
    return Dashboard(filters=filters, **funnel_numbers(filters), **rejections(filters))


def forget_leads(ids: list[int]) -> dict[str, int]:
    """Delete the read model's rows of these leads (erased on request), taking their counts
    out of the facts first: the refresh finds erased leads by their leftover rows, so rows
    deleted without that would stay counted for good. Returns how many rows went, by kind."""
    if not (
        LeadMilestone.objects.filter(lead_id__in=ids).exists()
        or FunnelRejection.objects.filter(lead_id__in=ids).exists()
    ):
        return {}
    with connection.cursor() as cursor:
        # One writer of the read model at a time: a refresh running now finishes first.
        lock_read_model(cursor)
        lead_ids = ", ".join(str(int(pk)) for pk in ids)
        _move_facts(cursor, stored_milestones(lead_ids), -1, {})
        cursor.execute("DELETE FROM funnel_funnelfact WHERE count = 0")
        cursor.execute("DELETE FROM funnel_funnelmonthfact WHERE count = 0")
    return {
        "funnel_milestones": LeadMilestone.objects.filter(lead_id__in=ids).delete()[0],
        "funnel_rejections": FunnelRejection.objects.filter(lead_id__in=ids).delete()[0],
    }
