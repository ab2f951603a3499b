"""The qualification engine compiled to SQL: every lead of a range scored set-based in
PostgreSQL, with the same points, criterion by criterion, as `engine.score_lead`.

`score_query` reads; `rescore_range` writes the scores and the automatic stage moves of a
range of leads in one transaction. The meaning of each rule is engine.py's; this module only
says it again in SQL, so read the two side by side:

- Fit and lead-definition rules become boolean expressions over the lead's columns. Text is
  compared lower-cased and stripped, lists and needles are prepared in Python and passed as
  parameters (never written into the SQL), patterns go to `~*`.
- Engagement rules without a window read the lead's event tally (scoring/counters.py): the
  count, the newest event, and for fading points per occurrence the sum of the events'
  weights relative to the newest, times `power(0.5, age of the newest / half-life)`. A lead
  with an event recorded ahead of `now` is added up from its events instead, as the engine
  counts such an event in full.
- Engagement rules with a window become aggregates over the lead's recent events, one
  FILTER per rule: a count, a sum of faded points (per occurrence) and the age of the newest
  counted event (once).
- Fading is `power(0.5, age / half-life)` in float8 on an age computed exactly (numeric
  seconds), as Python computes it; rounding is floor(x + 0.5), once, at the end.

Known limits (the engine's Python and PostgreSQL disagree, so the engine wins only when
these do not occur): text is stripped of ASCII whitespace only and lower-cased by the
database's collation; a text field compared with >= or <= counts as a number only in the
plain decimal notation (1, -2.5, .5, 1e3), not with underscores, "Infinity" or non-ASCII
digits; a pattern must mean the same to Python's `re` and PostgreSQL's regular expressions;
a per-occurrence sum adds floats in the database's order, and a tally's sum is re-based by
multiplication, both of which can differ from Python's in the last bits (a change of the
rounded points would need a sum within 1e-12 of n + 0.5).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils.translation import gettext as _

from leads.models import EventType
from scoring import counters, engine

# Columns of leads_lead a rule may read, by the field's name (the same list as the engine's).
_NUMERIC_COLUMNS = {"company_size", "budget"}
_TEXT_COLUMNS = {name for name in engine.RULE_FIELDS if name not in _NUMERIC_COLUMNS} - {
    "is_decision_maker"
}
# Python's str.strip() for the characters lead data holds, as the second argument of btrim.
_WHITESPACE = "E' \\t\\n\\r\\x0b\\x0c'"
# A number as Decimal() reads it, in the notation PostgreSQL's numeric reads the same way.
_PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
# Marks in a reason's wording, replaced per lead by the database.
_SCORE_MARK = "\x01score\x01"
_MET_MARK = "\x01met\x01"


class _Sql:
    """SQL text with its parameters, built side by side so they cannot get out of step."""

    def __init__(self, prefix: str = "p") -> None:
        self.prefix = prefix
        self.params: dict = {}

    def param(self, value, cast: str = "") -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f"%({name})s{cast}"


def _text_of(field: str) -> str:
    """The field as the engine compares it: str(value).strip().lower(), '' when empty."""
    if field in _NUMERIC_COLUMNS:
        column = f"coalesce(l.{field}::text, '')"
    elif field in _TEXT_COLUMNS:
        column = f"coalesce(l.{field}, '')"
    else:
        return "''"
    return f"lower(btrim({column}, {_WHITESPACE}))"


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    # Comparing with NaN raises in the engine; no lead meets such a rule here.
    return None if number.is_nan() else number


def _holds(rule: engine.Rule, sql: _Sql) -> str:
    """A boolean expression, never NULL, true where `engine.rule_holds` is."""
    operator = rule.operator
    if operator in ("email_domain_in", "email_domain_not_in"):
        # The text after the last "@" (all of it without one), as str.rsplit("@", 1)[-1].
        after_at = "reverse(split_part(reverse(coalesce(l.email, '')), '@', 1))"
        domain = f"lower(btrim({after_at}, {_WHITESPACE}))"
        held = f"({domain} = ANY({sql.param(rule.items, '::text[]')}))"
        return held if operator == "email_domain_in" else f"(NOT {held})"
    field = rule.field
    if field == "is_decision_maker":
        if operator == "is_set":
            return "l.is_decision_maker"
        if operator == "equals":
            wanted = rule.value.strip().lower() in engine._TRUE_WORDS
            return "l.is_decision_maker" if wanted else "(NOT l.is_decision_maker)"
        return "FALSE"
    if operator == "is_set":
        if field in _NUMERIC_COLUMNS:
            return f"(l.{field} IS NOT NULL)"
        if field in _TEXT_COLUMNS:
            return f"(coalesce(l.{field}, '') <> '')"
        return "FALSE"
    if operator in ("gte", "lte"):
        bound = _decimal(rule.value.strip())
        if bound is None:
            return "FALSE"
        compare = ">=" if operator == "gte" else "<="
        bound_sql = sql.param(str(bound), "::numeric")
        if field in _NUMERIC_COLUMNS:
            return f"coalesce(l.{field} {compare} {bound_sql}, FALSE)"
        if field in _TEXT_COLUMNS:
            trimmed = f"btrim(l.{field}, {_WHITESPACE})"
            return (
                f"(CASE WHEN {trimmed} ~ '{_PLAIN_NUMBER}' "
                f"THEN {trimmed}::numeric {compare} {bound_sql} ELSE FALSE END)"
            )
        return "FALSE"
    text = _text_of(field)
    if operator == "equals":
        return f"({text} = {sql.param(rule.value.strip().lower())})"
    if operator == "in_list":
        return f"({text} = ANY({sql.param(rule.items, '::text[]')}))"
    if operator == "contains":
        needle = rule.value.strip().lower()
        if not needle:
            return "FALSE"
        return f"(strpos({text}, {sql.param(needle)}) > 0)"
    if operator == "matches":
        pattern = rule.value.strip()
        try:
            re.compile(pattern)
        except re.error:
            return "FALSE"
        return f"({text} ~* {sql.param(pattern)})"
    return "FALSE"


def _counted(rule: engine.Rule, now: datetime, sql: _Sql) -> str:
    """The FILTER of the events `engine.counted_events` counts for the rule."""
    if rule.event_type:
        conditions = [f"e.type = {sql.param(rule.event_type)}"]
    else:
        conditions = [f"e.type <> {sql.param(str(EventType.CAPTURE))}"]
    needle = rule.url_contains.strip().lower()
    if needle:
        conditions.append(f"strpos(e.url, {sql.param(needle)}) > 0")
    if rule.window_days:
        since = now - timedelta(days=rule.window_days)
        conditions.append(f"e.occurred_at >= {sql.param(since, '::timestamptz')}")
    return " AND ".join(conditions)


def _fade(rule: engine.Rule, age: str, sql: _Sql) -> str:
    if not rule.half_life_days:
        return "1.0::float8"
    seconds = rule.half_life_days * engine.SECONDS_PER_DAY
    return f"power(0.5::float8, {age} / {sql.param(float(seconds), '::float8')})"


def _tallied_points(rule: engine.Rule, index: int, now: datetime, now_sql: str, sql: _Sql) -> str:
    """A float8 expression: the rule's points before rounding and capping, from the lead's
    tally (k.n: count, k.w: newest, k.f: faded sum relative to the newest)."""
    points = f"{sql.param(rule.points)}::float8"
    newest_age = f"greatest(extract(epoch FROM {now_sql} - k.w{index})::float8, 0)"
    if not rule.per_occurrence:
        return f"{points} * {_fade(rule, newest_age, sql)}"
    if not rule.half_life_days:
        return f"{points} * k.n{index}"
    # The tally's sum holds for a moment after its newest event; events still to come
    # (recorded with a time ahead of `now`) count at full weight, so such a lead is added
    # up from its events, as the engine does. Rare, and only for that lead.
    age = f"greatest(extract(epoch FROM {now_sql} - e.occurred_at)::float8, 0)"
    from_events = (
        f"(SELECT sum({points} * {_fade(rule, age, sql)}) FROM (SELECT e.type, "
        "lower(e.url) AS url, e.occurred_at FROM leads_event e WHERE e.lead_id = k.lead_id) e "
        f"WHERE {_counted(rule, now, sql)})"
    )
    return (
        f"(CASE WHEN k.w{index} <= {now_sql} "
        f"THEN {points} * (k.f{index} * {_fade(rule, newest_age, sql)}) ELSE {from_events} END)"
    )


def _lead_filter(
    lead_ids: Sequence[int] | None, id_range: tuple[int, int] | None, column: str, sql: _Sql
) -> str:  # noqa: E501
    if lead_ids is not None:
        return f"{column} = ANY({sql.param(list(lead_ids), '::bigint[]')})"
    if id_range is not None:
        low, high = id_range
        return f"{column} BETWEEN {sql.param(low)} AND {sql.param(high)}"
    return "TRUE"


def score_query(
    rules: engine.Rules,
    now: datetime,
    *,
    lead_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
    profiling_purposes: Sequence[int] = (),
    tallies: Mapping[int, int] | None = None,
) -> tuple[str, dict]:
    """SQL selecting, per active lead of `lead_ids` or `id_range` (both ends included; all
    leads when neither is given), what `engine.score_lead` gives at `now`.

    With `profiling_purposes` (ids of the purposes profiling is done on consent for) only
    the events of a lead holding a current grant of one of them count, as `may_profile`.

    `tallies` (from `counters.prepare`: rule position -> EventCounter id) lets engagement
    rules without a window read the lead's tally instead of its raw events; the others read
    raw events, of their types, within the longest of their windows.

    Columns: id, stage, points (the stored JSON list), fit, engagement, total, is_lead,
    qualifies (as MQL), buying_stage, named_met (criteria counting towards MQL met).
    """
    sql = _Sql()
    fit_columns: list[str] = []
    engagement_filters: list[str] = []
    aggregates: list[str] = []
    met: list[str] = []
    points: list[str] = []
    tallies = tallies or {}
    # Engagement rules reading raw events (the rest read their tally).
    engagement = [
        rule
        for index, rule in enumerate(rules.rules)
        if rule.kind == "engagement" and index not in tallies
    ]
    tally_columns: list[str] = []

    lead_filter = _lead_filter(lead_ids, id_range, "l.id", sql)
    for index, rule in enumerate(rules.rules):
        if rule.kind != "engagement":
            fit_columns.append(f"{_holds(rule, sql)} AS m{index}")
    event_filter = _lead_filter(lead_ids, id_range, "e.lead_id", sql)
    event_conditions = [event_filter]
    if engagement and all(rule.event_type for rule in engagement):
        types = sorted({rule.event_type for rule in engagement})
        event_conditions.append(f"e.type = ANY({sql.param(types, '::text[]')})")
    if engagement and all(rule.window_days for rule in engagement):
        longest = max(rule.window_days for rule in engagement)
        since = now - timedelta(days=longest)
        event_conditions.append(f"e.occurred_at >= {sql.param(since, '::timestamptz')}")
    now_sql = sql.param(now, "::timestamptz")
    for index, rule in enumerate(rules.rules):
        if rule.kind != "engagement":
            continue
        if index in tallies:
            counter = sql.param(tallies[index], "::bigint")
            for column, name in (("count", "n"), ("newest", "w"), ("faded", "f")):
                tally_columns.append(
                    f"max(k.{column}) FILTER (WHERE k.counter_id = {counter}) AS {name}{index}"
                )
            continue
        condition = _counted(rule, now, sql)
        engagement_filters.append(condition)
        aggregates.append(f"count(*) FILTER (WHERE {condition}) AS n{index}")
        if rule.per_occurrence:
            each = f"{sql.param(rule.points)}::float8 * {_fade(rule, 'e.age', sql)}"
            aggregates.append(f"sum({each}) FILTER (WHERE {condition}) AS s{index}")
        else:
            aggregates.append(f"min(e.age) FILTER (WHERE {condition}) AS a{index}")

    # Per rule: whether it is met (m) and its points (p).
    for index, rule in enumerate(rules.rules):
        if rule.kind == "engagement" and index in tallies:
            needed = max(rule.min_count, 1)
            count = f"coalesce(k.n{index}, 0)"
            met.append(f"({count} >= {sql.param(needed)}) AS m{index}")
            raw = _tallied_points(rule, index, now, now_sql, sql)
            if rule.per_occurrence and rule.cap is not None:
                cap = sql.param(float(rule.cap), "::float8")
                raw = f"greatest(least({raw}, {cap}), -{cap})"
            points.append(
                f"(CASE WHEN {count} >= {sql.param(needed)} "
                f"THEN floor({raw} + 0.5)::int ELSE 0 END) AS p{index}"
            )
        elif rule.kind == "engagement":
            needed = max(rule.min_count, 1)
            met.append(f"(coalesce(a.n{index}, 0) >= {sql.param(needed)}) AS m{index}")
            if rule.per_occurrence:
                raw = f"a.s{index}"
                if rule.cap is not None:
                    cap = sql.param(float(rule.cap), "::float8")
                    raw = f"greatest(least({raw}, {cap}), -{cap})"
            else:
                raw = f"{sql.param(rule.points)}::float8 * {_fade(rule, f'a.a{index}', sql)}"
            points.append(
                f"(CASE WHEN coalesce(a.n{index}, 0) >= {sql.param(needed)} "
                f"THEN floor({raw} + 0.5)::int ELSE 0 END) AS p{index}"
            )
        else:
            met.append(f"t.m{index}")
            value = sql.param(rule.points) if rule.kind == "fit" else "0"
            points.append(f"(CASE WHEN t.m{index} THEN {value}::int ELSE 0 END) AS p{index}")

    def total_of(kind: str) -> str:
        terms = [f"r.p{i}" for i, rule in enumerate(rules.rules) if rule.kind == kind]
        return " + ".join(terms) if terms else "0"

    def all_of(indexes: list[int]) -> str:
        return " AND ".join(f"r.m{i}" for i in indexes) if indexes else "TRUE"

    def any_of(indexes: list[int]) -> str:
        return " OR ".join(f"r.m{i}" for i in indexes) if indexes else "FALSE"

    stored = [
        f"r.m{i}::int" if rule.kind == "lead_definition" else f"r.p{i}"
        for i, rule in enumerate(rules.rules)
    ]
    stored_sql = f"to_jsonb(ARRAY[{', '.join(stored)}]::int[])" if stored else "'[]'::jsonb"
    lead_definition = [i for i, r in enumerate(rules.rules) if r.kind == "lead_definition"]
    must_have = [i for i, r in enumerate(rules.rules) if r.must_have]
    named = [i for i, r in enumerate(rules.rules) if r.counts_towards_mql]
    named_sql = " + ".join(f"r.m{i}::int" for i in named) if named else "0"
    buying = " ".join(
        f"WHEN {any_of([i for i, r in enumerate(rules.rules) if r.buying_signal == signal])} "
        f"THEN '{signal}'"
        for signal in reversed(engine.BUYING_STAGE_ORDER)
    )
    per_rule = ", ".join([*met, *points]) or "TRUE AS nothing"
    by_threshold = (
        f"(r.fit + r.engagement) >= {sql.param(rules.mql_threshold)}"
        if rules.mql_threshold is not None
        else "FALSE"
    )
    by_count = (
        f"r.named_met >= {sql.param(rules.mql_criteria_needed)}"
        if rules.mql_criteria_needed
        else "FALSE"
    )
    if profiling_purposes:
        # A current grant: the latest record of one of the purposes grants (the id breaks a
        # tie, as in consent_status()). A scalar subquery, not EXISTS, which the planner may
        # turn into a hash of every consent record: a second for each chunk of leads.
        ids = sql.param(list(profiling_purposes), "::bigint[]")
        fit_columns.append(
            "coalesce((SELECT bool_or(latest.granted) FROM ("
            "SELECT DISTINCT ON (c.purpose_id) c.granted FROM consent_consentrecord c "
            f"WHERE c.subject_id = l.id AND c.purpose_id = ANY({ids}) "
            "ORDER BY c.purpose_id, c.recorded_at DESC, c.id DESC) latest), FALSE) AS may_profile"
        )
    fit_select = "".join(f", {column}" for column in fit_columns)
    if engagement:
        events = f"""
    , ev AS (
        SELECT e.lead_id, e.type, lower(e.url) AS url, e.occurred_at,
               greatest(extract(epoch FROM {now_sql} - e.occurred_at)::float8, 0) AS age
        FROM leads_event e WHERE {" AND ".join(event_conditions)}
    ), agg AS (
        SELECT e.lead_id, {", ".join(aggregates)} FROM ev e GROUP BY e.lead_id
    )"""
        join = "LEFT JOIN agg a ON a.lead_id = t.id"
        if profiling_purposes:
            join += " AND t.may_profile"
    else:
        events, join = "", ""
    if tally_columns:
        tally_filter = _lead_filter(lead_ids, id_range, "k.lead_id", sql)
        counter_ids = sql.param(sorted(set(tallies.values())), "::bigint[]")
        events += f"""
    , tally AS (
        SELECT k.lead_id, {", ".join(tally_columns)} FROM scoring_leadcounter k
        WHERE {tally_filter} AND k.counter_id = ANY({counter_ids}) GROUP BY k.lead_id
    )"""
        join += " LEFT JOIN tally k ON k.lead_id = t.id"
        if profiling_purposes:
            join += " AND t.may_profile"
    query = f"""
    WITH target AS MATERIALIZED (
        SELECT l.id, l.stage{fit_select} FROM leads_lead l
        WHERE {lead_filter} AND l.merged_into_id IS NULL
    ){events}, per_rule AS (
        SELECT t.id, t.stage, {per_rule} FROM target t {join}
    ), subtotals AS (
        SELECT r.*, ({total_of("fit")}) AS fit, ({total_of("engagement")}) AS engagement,
               ({all_of(lead_definition)}) AS is_lead, ({named_sql}) AS named_met,
               ({all_of(must_have)}) AS must_haves_met,
               (CASE {buying} ELSE '' END) AS buying_stage,
               {stored_sql} AS points
        FROM per_rule r
    )
    SELECT r.id, r.stage, r.points, r.fit, r.engagement, r.fit + r.engagement AS total,
           r.is_lead, (r.is_lead AND r.must_haves_met AND ({by_threshold} OR {by_count}))
           AS qualifies, r.buying_stage, r.named_met
    FROM subtotals r
    """
    return query, sql.params


def _prepared_query(
    rules: engine.Rules,
    now: datetime,
    lead_ids: Sequence[int] | None,
    id_range: tuple[int, int] | None,
    profiling_purposes: Sequence[int],
) -> tuple[str, dict]:
    """`score_query` reading the event tallies the rules need (registered first where new)."""
    return score_query(
        rules,
        now,
        lead_ids=lead_ids,
        id_range=id_range,
        profiling_purposes=profiling_purposes,
        tallies=counters.prepare(rules),
    )


@dataclass(frozen=True)
class CompiledScore:
    """One lead's row of `score_query`."""

    stage: str
    points: list[int]
    fit: int
    engagement: int
    total: int
    is_lead: bool
    qualifies_as_mql: bool
    buying_stage: str
    named_met: int


def score_leads(
    rules: engine.Rules,
    now: datetime,
    *,
    lead_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
    profiling_purposes: Sequence[int] = (),
) -> dict[int, CompiledScore]:
    """The scores `score_query` gives, by lead id, without writing any (a preview; it may
    register a new kind of event tally, see counters.prepare)."""
    query, params = _prepared_query(rules, now, lead_ids, id_range, profiling_purposes)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # see rescore_range
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return {
        lead_id: CompiledScore(
            stage=stage,
            # Django reads jsonb as text and leaves decoding to JSONField.
            points=json.loads(points) if isinstance(points, str) else points,
            fit=fit,
            engagement=engagement,
            total=total,
            is_lead=is_lead,
            qualifies_as_mql=qualifies,
            buying_stage=buying_stage,
            named_met=named_met,
        )
        for (
            lead_id, stage, points, fit, engagement, total, is_lead, qualifies, buying_stage,
            named_met,
        ) in rows
    }  # fmt: skip


def _reasons(rules: engine.Rules) -> dict[str, str]:
    """`services.automatic_reason`'s wording for each move, with marks where the lead's own
    score and count of named criteria go (the same message ids, so the same translations)."""
    version = {"version": rules.version}
    return {
        "lead_reason": _("Meets the lead definition of version %(version)s.") % version,
        "threshold_reason": _(
            "Score %(score)s reached the MQL threshold of %(threshold)s (version %(version)s)."
        )
        % {**version, "score": _SCORE_MARK, "threshold": rules.mql_threshold},
        "count_reason": _(
            "Meets %(met)s of the criteria counting towards MQL (version %(version)s)."
        )
        % {**version, "met": _MET_MARK},
        "contact_reason": _("No longer qualifies under version %(version)s (score %(score)s).")
        % {**version, "score": _SCORE_MARK},
        "score_mark": _SCORE_MARK,
        "met_mark": _MET_MARK,
    }


_RESCORE = """
WITH scored AS ({score_query}
), moves AS (
    SELECT s.*,
           CASE s.stage WHEN 'contact' THEN 0 WHEN 'lead' THEN 1 WHEN 'mql' THEN 2 END AS here,
           CASE WHEN s.qualifies THEN 2 WHEN s.is_lead THEN 1 ELSE 0 END AS there
    FROM scored s
), targets AS (
    SELECT m.*,
           CASE WHEN m.there > m.here OR (m.there < m.here AND %(downgrade)s)
                THEN (ARRAY['contact', 'lead', 'mql'])[m.there + 1] END AS new_stage
    FROM moves m
), updated AS (
    -- Only the leads whose score or stage changes: a lead's row has many indexes.
    UPDATE leads_lead l
    SET score = t.total, fit_score = t.fit, engagement_score = t.engagement,
        buying_stage = t.buying_stage,
        stage = coalesce(t.new_stage, l.stage),
        updated_at = CASE WHEN t.new_stage IS NULL THEN l.updated_at ELSE %(now)s END
    FROM targets t
    WHERE l.id = t.id AND {lead_filter}
      AND (t.new_stage IS NOT NULL
           OR (l.score, l.fit_score, l.engagement_score, l.buying_stage)
              IS DISTINCT FROM (t.total, t.fit, t.engagement, t.buying_stage))
    RETURNING l.id
), breakdown AS (
    INSERT INTO scoring_leadscore AS s (lead_id, version, points, scored_at)
    SELECT t.id, %(version_number)s, t.points, %(now)s FROM targets t
    ON CONFLICT (lead_id) DO UPDATE
    SET version = EXCLUDED.version, points = EXCLUDED.points, scored_at = EXCLUDED.scored_at
    RETURNING 1
), recorded AS (
    INSERT INTO scoring_stagetransition
        (lead_id, from_stage, to_stage, actor_id, reason, details, score, criteria_version_id,
         occurred_at)
    SELECT t.id, h.from_stage, h.to_stage, NULL, h.reason, '{}'::jsonb, t.total,
           %(version_id)s, clock_timestamp()
    FROM targets t
    CROSS JOIN LATERAL (VALUES
        (1, 'contact', 'lead', %(lead_reason)s::text),
        (2, 'lead', 'mql',
         CASE WHEN %(threshold)s::int IS NOT NULL AND t.total >= %(threshold)s::int
              THEN replace(%(threshold_reason)s, %(score_mark)s, t.total::text)
              ELSE replace(%(count_reason)s, %(met_mark)s, t.named_met::text) END),
        (3, t.stage, t.new_stage, replace(%(contact_reason)s, %(score_mark)s, t.total::text))
    ) AS h (hop, from_stage, to_stage, reason)
    WHERE t.new_stage IS NOT NULL
      AND ((h.hop = 1 AND t.here = 0 AND t.there >= 1)
           OR (h.hop = 2 AND t.here <= 1 AND t.there = 2)
           OR (h.hop = 3 AND t.there < t.here))
    ORDER BY t.id, h.hop
    RETURNING 1
)
SELECT count(*) FROM targets WHERE new_stage IS NOT NULL
"""


def rescore_range(
    *,
    rules: engine.Rules,
    version_id: int,
    now: datetime,
    lead_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
    profiling_purposes: Sequence[int] = (),
) -> int:
    """Score the active leads of `lead_ids` or `id_range` (both ends included) with `rules`,
    set-based, store the scores (the lead's row only where they change; the version, points
    per criterion and time in scoring_leadscore for every lead), and move them between
    contact, lead and MQL as `engine.earned_stages` says, recording each move as
    `services.rescore_lead` would (no actor, the version, its reason, the new score).

    One transaction. The leads are locked first, in id order, and scored afterwards: a
    per-lead re-score holding one of them finishes before, and its events are then seen;
    one asked for meanwhile waits and scores after this. Events may still be recorded, as
    the lock taken does not block the key share an event's foreign key needs. Returns how
    many leads changed stage.
    """
    if lead_ids is not None and not lead_ids:
        return 0
    lock = _Sql(prefix="lock")
    lead_filter = _lead_filter(lead_ids, id_range, "l.id", lock)
    query, params = _prepared_query(rules, now, lead_ids, id_range, profiling_purposes)
    params = {
        **params,
        **_reasons(rules),
        "downgrade": rules.downgrade_on_decay,
        "version_number": rules.version,
        "version_id": version_id,
        "now": now,
        "threshold": rules.mql_threshold,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Sorting a chunk's scores for the update in memory rather than on disk; and no
        # JIT: the statement looks expensive to the planner (subqueries it never runs) and
        # compiling it takes longer than running it.
        cursor.execute("SET LOCAL work_mem = '16MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"SELECT l.id FROM leads_lead l WHERE {lead_filter} AND l.merged_into_id IS NULL "
            "ORDER BY l.id FOR NO KEY UPDATE",
            lock.params,
        )
        statement = _RESCORE.replace("{score_query}", query).replace("{lead_filter}", lead_filter)
        cursor.execute(statement, {**lock.params, **params})
        (moved,) = cursor.fetchone()
    return moved
