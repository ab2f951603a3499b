"""The qualification engine for one lead: its score, the breakdown, and the stage it earns.

Pure functions over plain values, so the same rules can be checked against the set-based
re-score in SQL (scoring/compiled.py must give the same points, criterion by criterion).
The meaning of every rule, exactly:

- Text comparisons ignore case and surrounding spaces; a list value is split on commas and
  line breaks.
- An engagement rule counts the lead's events of its type (any type but captures when
  blank) whose URL contains its text (ignoring case), within its window of days before now.
  It is met when it counts at least `min_count`. Points once: the rule's points, faded by the
  age of the newest counted event. Per occurrence: each counted event's faded points added
  up, at most `cap` (in absolute value). Fading halves the points every `half_life_days`.
- A rule's points are rounded half up (floor of x + 0.5), once, at the end.
- Fit = the fit rules' points; engagement = the engagement rules' points; score = both.
- A lead definition rule gives no points; all of them must be met for a contact to count as
  a lead (a version without any: every contact is a lead).
- A lead qualifies as MQL when it is a lead, meets every must-have rule, and its score
  reaches the threshold or it meets `mql_criteria_needed` of the rules counting towards MQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from leads.models import EventType, Stage
from leads.validation import LEAD_FIELDS

# The fields a fit or lead-definition rule may read.
RULE_FIELDS = [*LEAD_FIELDS, "is_decision_maker"]
NUMERIC_FIELDS = {"company_size", "budget"}
BUYING_STAGE_ORDER = ["awareness", "consideration", "purchase"]
# The stages the engine moves leads between by itself; the rest are people's decisions.
AUTOMATIC_STAGES = {Stage.CONTACT, Stage.LEAD, Stage.MQL}
SECONDS_PER_DAY = 86_400
_TRUE_WORDS = {"true", "yes", "1", "ja", "waar"}


@dataclass(frozen=True)
class Rule:
    """A criterion as the engine reads it (a snapshot: versions in use never change)."""

    id: int
    kind: str
    name: str
    points: int = 0
    field: str = ""
    operator: str = ""
    value: str = ""
    event_type: str = ""
    url_contains: str = ""
    min_count: int = 1
    window_days: int | None = None
    per_occurrence: bool = False
    cap: int | None = None
    half_life_days: int | None = None
    buying_signal: str = ""
    must_have: bool = False
    counts_towards_mql: bool = False

    @property
    def items(self) -> list[str]:
        return split_list(self.value)


@dataclass(frozen=True)
class Rules:
    """A criteria version as the engine reads it."""

    version: int
    rules: tuple[Rule, ...]
    mql_threshold: int | None = None
    mql_criteria_needed: int | None = None
    downgrade_on_decay: bool = False

    @classmethod
    def of(cls, version) -> Rules:
        """From a CriteriaVersion (its criteria in their order)."""
        return cls(
            version=version.number,
            rules=tuple(
                Rule(
                    id=c.pk,
                    kind=c.kind,
                    name=c.name,
                    points=c.points,
                    field=c.field,
                    operator=c.operator,
                    value=c.value,
                    event_type=c.event_type,
                    url_contains=c.url_contains,
                    min_count=c.min_count,
                    window_days=c.window_days,
                    per_occurrence=c.per_occurrence,
                    cap=c.cap,
                    half_life_days=c.half_life_days,
                    buying_signal=c.buying_signal,
                    must_have=c.must_have,
                    counts_towards_mql=c.counts_towards_mql,
                )
                for c in version.criteria.order_by("position", "id")
            ),
            mql_threshold=version.mql_threshold,
            mql_criteria_needed=version.mql_criteria_needed,
            downgrade_on_decay=version.downgrade_on_decay,
        )


@dataclass(frozen=True)
class EventFact:
    """What the engine needs of an event."""

    type: str
    url: str
    occurred_at: datetime


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    met: bool
    points: int
    count: int = 0  # engagement: events counted


@dataclass(frozen=True)
class Score:
    version: int
    results: tuple[RuleResult, ...]
    is_lead: bool
    qualifies_as_mql: bool
    buying_stage: str
    fit: int = 0
    engagement: int = 0

    @property
    def total(self) -> int:
        return self.fit + self.engagement

    @property
    def points(self) -> list[int]:
        """Per rule in order, as stored on the lead: points, or 1/0 for a lead-definition
        rule (met or not)."""
        return [
            (1 if result.met else 0) if result.rule.kind == "lead_definition" else result.points
            for result in self.results
        ]


def split_list(value: str) -> list[str]:
    return [item.strip().lower() for item in re.split(r"[,\n]", value or "") if item.strip()]


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def fade(age_seconds: float, half_life_days: int | None) -> float:
    if not half_life_days:
        return 1.0
    return 0.5 ** (max(age_seconds, 0.0) / (half_life_days * SECONDS_PER_DAY))


def field_value(lead, name: str):
    value = getattr(lead, name, None)
    if name == "country":
        return getattr(value, "code", value) or ""
    return value


def rule_holds(rule: Rule, lead) -> bool:
    """Whether a fit or lead-definition rule holds for the lead."""
    operator = rule.operator
    if operator in ("email_domain_in", "email_domain_not_in"):
        domain = (lead.email or "").rsplit("@", 1)[-1].strip().lower()
        return (domain in rule.items) == (operator == "email_domain_in")
    value = field_value(lead, rule.field)
    if operator == "is_set":
        return value is True if isinstance(value, bool) else value not in ("", None)
    if isinstance(value, bool):
        wanted = rule.value.strip().lower() in _TRUE_WORDS
        return operator == "equals" and value == wanted
    if operator in ("gte", "lte"):
        if value in ("", None):
            return False
        try:
            number, bound = Decimal(str(value)), Decimal(rule.value.strip())
        except InvalidOperation:
            return False
        if not (number.is_finite() and bound.is_finite()):
            return False
        return number >= bound if operator == "gte" else number <= bound
    text = "" if value is None else str(value).strip().lower()
    if operator == "equals":
        return text == rule.value.strip().lower()
    if operator == "in_list":
        return text in rule.items
    if operator == "contains":
        needle = rule.value.strip().lower()
        return bool(needle) and needle in text
    if operator == "matches":
        try:
            return re.search(rule.value.strip(), text, re.IGNORECASE) is not None
        except re.error:
            return False
    return False


def counted_events(rule: Rule, events: Iterable[EventFact], now: datetime) -> list[EventFact]:
    since = now - timedelta(days=rule.window_days) if rule.window_days else None
    needle = rule.url_contains.strip().lower()
    return [
        event
        for event in events
        if (event.type == rule.event_type if rule.event_type else event.type != EventType.CAPTURE)
        and (not needle or needle in (event.url or "").lower())
        and (since is None or event.occurred_at >= since)
    ]


def engagement_result(rule: Rule, events: Sequence[EventFact], now: datetime) -> RuleResult:
    counted = counted_events(rule, events, now)
    met = len(counted) >= max(rule.min_count, 1)
    if not met:
        return RuleResult(rule, False, 0, len(counted))
    if rule.per_occurrence:
        raw = sum(
            rule.points * fade((now - event.occurred_at).total_seconds(), rule.half_life_days)
            for event in counted
        )
        if rule.cap is not None:
            raw = max(min(raw, rule.cap), -rule.cap)
    else:
        newest = max(event.occurred_at for event in counted)
        raw = rule.points * fade((now - newest).total_seconds(), rule.half_life_days)
    return RuleResult(rule, True, round_half_up(raw), len(counted))


def score_lead(
    lead, events: Sequence[EventFact], rules: Rules, now: datetime, *, may_profile: bool = True
) -> Score:
    """The lead's score under `rules` at `now`, with a result per rule.

    Without `may_profile` (profiling needs consent the person has not given) the lead's
    behaviour is not read at all: engagement rules count no events.
    """
    if not may_profile:
        events = ()
    results = []
    for rule in rules.rules:
        if rule.kind == "engagement":
            results.append(engagement_result(rule, events, now))
        else:
            met = rule_holds(rule, lead)
            points = rule.points if met and rule.kind == "fit" else 0
            results.append(RuleResult(rule, met, points))
    fit = sum(r.points for r in results if r.rule.kind == "fit")
    engagement = sum(r.points for r in results if r.rule.kind == "engagement")
    is_lead = all(r.met for r in results if r.rule.kind == "lead_definition")
    named_met = sum(1 for r in results if r.rule.counts_towards_mql and r.met)
    must_haves_met = all(r.met for r in results if r.rule.must_have)
    by_threshold = rules.mql_threshold is not None and fit + engagement >= rules.mql_threshold
    by_count = bool(rules.mql_criteria_needed) and named_met >= rules.mql_criteria_needed
    signals = {r.rule.buying_signal for r in results if r.met and r.rule.buying_signal}
    buying_stage = next((s for s in reversed(BUYING_STAGE_ORDER) if s in signals), "")
    return Score(
        version=rules.version,
        results=tuple(results),
        is_lead=is_lead,
        qualifies_as_mql=is_lead and must_haves_met and (by_threshold or by_count),
        buying_stage=buying_stage,
        fit=fit,
        engagement=engagement,
    )


def earned_stages(current: str, score: Score, *, downgrade: bool) -> list[Stage]:
    """The stages the engine moves a lead through from `current`, in order (often none).

    Only contact, lead and MQL move by themselves; upward one step at a time (a contact
    qualifying at once goes to lead, then MQL, so the funnel counts both), downward only
    when the version says fading counts.
    """
    if current not in AUTOMATIC_STAGES:
        return []
    target = Stage.MQL if score.qualifies_as_mql else Stage.LEAD if score.is_lead else Stage.CONTACT
    order = [Stage.CONTACT, Stage.LEAD, Stage.MQL]
    here, there = order.index(Stage(current)), order.index(target)
    if there > here:
        return order[here + 1 : there + 1]
    if there < here and downgrade:
        return [target]
    return []
