"""What publishing a draft would do, worked out without saving anything.

"Preview impact" scores every active lead with the draft exactly as the re-score after
publishing would (the same engine, the same events, the same stage policy) and reports the
moves between stages, with examples, and a backtest: of the leads the draft qualifies as MQL,
how many went on to SQL, opportunity and won, against the same figures for the active
version. In chunks of leads by id with a fixed number of queries per chunk; on PostgreSQL
each chunk is scored set-based (scoring/compiled.py), elsewhere lead by lead by the engine.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from leads.models import Lead, Stage
from outbox.services import request_task
from scoring import engine
from scoring.models import CriteriaVersion, ImpactPreview, StageTransition
from scoring.services import countable_events, may_profile, profiling_purposes, rules_of

PREVIEW_CHUNK = 2_000
EXAMPLE_FIELDS = ("id", "stage", "email", "first_name", "last_name")
# The stages a backtest follows a qualified lead to, in funnel order.
LATER_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
_STAGE_ORDER = list(Stage)
# A lead standing in a later stage has reached the ones before it, also when its history
# does not show the moves (leads imported in that stage).
IMPLIED_BY_STAGE = {
    Stage.SQL: {Stage.SQL},
    Stage.OPPORTUNITY: {Stage.SQL, Stage.OPPORTUNITY},
    Stage.WON: {Stage.SQL, Stage.OPPORTUNITY, Stage.WON},
}


@dataclass(frozen=True)
class Example:
    """A lead that would move, for the admin to open and check."""

    lead_id: int
    name: str


@dataclass
class Move:
    """Leads that would go from one stage to another (a multi-step move such as contact ->
    lead -> MQL counts once, as contact -> MQL)."""

    from_stage: Stage
    to_stage: Stage
    count: int = 0
    examples: list[Example] = field(default_factory=list)

    @property
    def upward(self) -> bool:
        return _STAGE_ORDER.index(self.to_stage) > _STAGE_ORDER.index(self.from_stage)


@dataclass
class Backtest:
    """Of the leads a version qualifies as MQL, how many have ever reached the later stages
    (according to their stage history)."""

    version_number: int
    qualified: int = 0
    reached_sql: int = 0
    reached_opportunity: int = 0
    reached_won: int = 0

    def add(self, reached: set[str]) -> None:
        self.qualified += 1
        self.reached_sql += Stage.SQL in reached
        self.reached_opportunity += Stage.OPPORTUNITY in reached
        self.reached_won += Stage.WON in reached


@dataclass
class Impact:
    """What publishing `version_number` would do to the leads as they are at `computed_at`."""

    version_number: int
    computed_at: datetime
    backtest: Backtest
    # None before any version was published: nothing to compare with.
    active_backtest: Backtest | None = None
    scored: int = 0
    moves: list[Move] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return sum(move.count for move in self.moves)


def preview_impact(
    version: CriteriaVersion, *, now: datetime | None = None, examples: int = 5
) -> Impact:
    """Score every active lead with `version` (usually the draft) and, for comparison, with
    the active version, saving nothing; returns the moves publishing would make and the
    backtest of both versions."""
    now = now or timezone.now()
    rules = rules_of(version)
    active = CriteriaVersion.objects.active()
    active_rules = rules_of(active) if active is not None else None
    impact = Impact(
        version_number=version.number,
        computed_at=now,
        backtest=Backtest(version_number=version.number),
        active_backtest=Backtest(version_number=active.number) if active else None,
    )
    moves: dict[tuple[str, str], Move] = {}
    last_id = 0
    while True:
        leads = list(_leads_to_score().filter(pk__gt=last_id).order_by("pk")[: _chunk()])
        if not leads:
            break
        last_id = leads[-1].pk
        ids = [lead.pk for lead in leads]
        scores, active_scores = _scores(ids, leads, rules, active_rules, now)
        reached = stages_reached(ids)
        for lead in leads:
            score = scores[lead.pk]
            impact.scored += 1
            earned = engine.earned_stages(lead.stage, score, downgrade=rules.downgrade_on_decay)
            if earned:
                key = (lead.stage, earned[-1])
                move = moves.setdefault(key, Move(Stage(lead.stage), Stage(earned[-1])))
                move.count += 1
                if len(move.examples) < examples:
                    move.examples.append(Example(lead.pk, str(lead)))
            lead_reached = reached.get(lead.pk, set()) | IMPLIED_BY_STAGE.get(lead.stage, set())
            if score.qualifies_as_mql:
                impact.backtest.add(lead_reached)
            active_score = active_scores.get(lead.pk)
            if active_score is not None and active_score.qualifies_as_mql:
                impact.active_backtest.add(lead_reached)
    impact.moves = sorted(
        moves.values(),
        key=lambda m: (_STAGE_ORDER.index(m.from_stage), _STAGE_ORDER.index(m.to_stage)),
    )
    return impact


def _set_based() -> bool:
    return connection.vendor == "postgresql"


def _chunk() -> int:
    # Set-based scoring costs little per lead, so bigger chunks save round trips.
    return PREVIEW_CHUNK * 10 if _set_based() else PREVIEW_CHUNK


def _leads_to_score():
    leads = Lead.objects.active()
    # Scored in SQL, a lead is only needed for its stage and its name in the examples.
    return leads.only(*EXAMPLE_FIELDS) if _set_based() else leads


def _scores(ids, leads, rules, active_rules, now) -> tuple[dict, dict]:
    """Each lead's score under the draft and under the active version (if any): set-based
    in SQL on PostgreSQL (scoring/compiled.py, equal to the engine), else by the engine."""
    if _set_based():
        from scoring import compiled

        # The chunk is every active lead in its id range: read the range, not a list.
        span = (ids[0], ids[-1])
        gate = profiling_purposes()
        scores = compiled.score_leads(rules, now, id_range=span, profiling_purposes=gate)
        active = (
            compiled.score_leads(active_rules, now, id_range=span, profiling_purposes=gate)
            if active_rules
            else {}
        )
        return scores, active
    events = events_of_leads(ids, [r for r in (rules, active_rules) if r], now)
    profiled = {lead.pk: may_profile(lead.pk) for lead in leads}
    scores = {
        lead.pk: engine.score_lead(
            lead, events.get(lead.pk, []), rules, now, may_profile=profiled[lead.pk]
        )
        for lead in leads
    }
    active = {
        lead.pk: engine.score_lead(
            lead, events.get(lead.pk, []), active_rules, now, may_profile=profiled[lead.pk]
        )
        for lead in leads
        if active_rules is not None
    }
    return scores, active


def events_of_leads(
    lead_ids: list[int], rule_sets: list[engine.Rules], now: datetime
) -> dict[int, list[engine.EventFact]]:
    """The events of these leads that any of the rule sets can count, by lead, in one query."""
    events = countable_events(rule_sets, now)
    if events is None:
        return {}
    events = events.filter(lead_id__in=lead_ids)
    by_lead: dict[int, list[engine.EventFact]] = defaultdict(list)
    for lead_id, type_, url, occurred_at in events.values_list(
        "lead_id", "type", "url", "occurred_at"
    ):
        by_lead[lead_id].append(engine.EventFact(type=type_, url=url, occurred_at=occurred_at))
    return by_lead


def stages_reached(lead_ids: list[int]) -> dict[int, set[str]]:
    """Which of SQL, opportunity and won each of these leads (ascending ids) has ever moved
    to; read by id range, so it may name leads in between too."""
    reached: dict[int, set[str]] = defaultdict(set)
    rows = (
        StageTransition.objects.filter(
            lead_id__gte=lead_ids[0], lead_id__lte=lead_ids[-1], to_stage__in=LATER_STAGES
        )
        .values_list("lead_id", "to_stage")
        .distinct()
    )
    for lead_id, stage in rows:
        reached[lead_id].add(stage)
    return reached


# --- In the background, for many leads ------------------------------------------------------

PREVIEW_TASK = "scoring.tasks.preview_impact_task"


def impact_as_json(impact: Impact) -> dict:
    return dataclasses.asdict(impact) | {"computed_at": impact.computed_at.isoformat()}


def impact_from_json(data: dict) -> Impact:
    def backtest(values: dict | None) -> Backtest | None:
        return Backtest(**values) if values is not None else None

    return Impact(
        version_number=data["version_number"],
        computed_at=datetime.fromisoformat(data["computed_at"]),
        backtest=backtest(data["backtest"]),
        active_backtest=backtest(data["active_backtest"]),
        scored=data["scored"],
        moves=[
            Move(
                from_stage=Stage(move["from_stage"]),
                to_stage=Stage(move["to_stage"]),
                count=move["count"],
                examples=[Example(**example) for example in move["examples"]],
            )
            for move in data["moves"]
        ],
    )


def current_preview(version: CriteriaVersion) -> ImpactPreview:
    """The background preview of the draft as it is now: the one under way or done since its
    last change, else a new one, asked for through the outbox."""
    with transaction.atomic():
        fresh = version.previews.filter(requested_at__gte=version.changed_at).first()
        if fresh is not None:
            return fresh
        preview = ImpactPreview.objects.create(version=version)
        request_task(PREVIEW_TASK, preview.pk, dedupe_key=f"preview:{preview.pk}")
    preview.refresh_from_db()
    return preview


def work_out_preview(*, preview_id: int) -> None:
    """Compute a background preview (the task); idempotent."""
    preview = ImpactPreview.objects.select_related("version").filter(pk=preview_id).first()
    if preview is None or preview.finished_at is not None:
        return
    impact = preview_impact(preview.version)
    ImpactPreview.objects.filter(pk=preview_id).update(
        result=impact_as_json(impact), finished_at=timezone.now()
    )
