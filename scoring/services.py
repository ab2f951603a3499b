"""Stage transitions and scoring. `transition` is the one way a lead changes stage;
`rescore_lead` scores one lead with the active criteria; drafts are published here."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Role
from consent.models import LegalBasis, Purpose
from consent.services import consent_status
from leads.models import Event, EventType, Lead, Stage
from outbox.services import request_task
from scoring import counters, engine
from scoring.models import (
    CriteriaVersion,
    LeadScore,
    LossReason,
    RejectionReason,
    RescoreRun,
    StageTransition,
    Team,
    VersionStatus,
)

RESCORE_ALL_TASK = "scoring.tasks.rescore_all_task"
RESCORE_TASK = "scoring.tasks.rescore_lead_task"

# Moving a lead out of the funnel must say why, so marketing learns from it.
STAGES_NEEDING_A_REASON = {Stage.NURTURE, Stage.DISQUALIFIED, Stage.LOST, Stage.WON}


class TransitionRefused(Exception):
    """The move is not allowed; the message says why, for the person who tried."""


class TransitionConflict(TransitionRefused):
    """Someone else moved the lead first."""


# --- Stage policy ----------------------------------------------------------------------------


class TransitionForbidden(TransitionRefused):
    """The actor's role (or the engine) may not make this move."""


class TransitionIncomplete(TransitionRefused):
    """The move needs something that is missing or wrong; `field` names it ("reason",
    "bant", "offer")."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


# Who owns a stage when the version in force has no definition for it; None: either team.
DEFAULT_OWNING_TEAM: dict[Stage, Team | None] = {
    Stage.CONTACT: Team.MARKETING,
    Stage.LEAD: Team.MARKETING,
    Stage.MQL: Team.MARKETING,
    Stage.NURTURE: Team.MARKETING,
    Stage.SQL: Team.SALES,
    Stage.OPPORTUNITY: Team.SALES,
    Stage.WON: Team.SALES,
    Stage.LOST: Team.SALES,
    Stage.DISQUALIFIED: None,
}
TEAM_ROLES: dict[Team, set[Role]] = {
    Team.MARKETING: {Role.MARKETER},
    Team.SALES: {Role.SALES_REP, Role.SALES_MANAGER},
}
# Either team may park a lead here with a reason; the team owning the stage it goes back to
# takes it out again.
PARKING_STAGES = {Stage.NURTURE, Stage.DISQUALIFIED}
# Becoming sales qualified is the hand-over: the team owning SQL accepts it, with BANT.
ACCEPTANCE_STAGE = Stage.SQL
_ANY_STAGE = frozenset(Stage)
# Where a lead may come from, per stage it goes to. The funnel counts each step, so sales
# stages are reached one at a time: an SQL was an MQL (or comes back from being parked), an
# opportunity was an SQL, a won deal was an opportunity.
ALLOWED_SOURCES: dict[Stage, frozenset[Stage]] = {
    Stage.CONTACT: frozenset({Stage.LEAD, Stage.MQL, *PARKING_STAGES}),
    Stage.LEAD: frozenset({Stage.CONTACT, Stage.MQL, *PARKING_STAGES}),
    Stage.MQL: frozenset({Stage.CONTACT, Stage.LEAD, *PARKING_STAGES}),
    Stage.SQL: frozenset({Stage.MQL, *PARKING_STAGES}),
    Stage.OPPORTUNITY: frozenset({Stage.SQL}),
    Stage.WON: frozenset({Stage.OPPORTUNITY}),
    Stage.LOST: frozenset({Stage.SQL, Stage.OPPORTUNITY}),
    Stage.NURTURE: _ANY_STAGE - {Stage.NURTURE},
    Stage.DISQUALIFIED: _ANY_STAGE - {Stage.DISQUALIFIED},
}
# What a move records besides its reason, per stage it goes to.
DETAILS_REQUIRED: dict[Stage, str] = {Stage.SQL: "bant", Stage.OPPORTUNITY: "offer"}
# Details a move may carry without needing them: why sales sent a lead back (counted per
# criterion and source for marketing) and why a deal was lost.
DETAILS_OPTIONAL: dict[Stage, str] = {
    Stage.NURTURE: "rejection",
    Stage.DISQUALIFIED: "rejection",
    Stage.LOST: "loss",
}
BANT_FIELDS = {
    "budget": gettext_lazy("budget"),
    "authority": gettext_lazy("authority"),
    "need": gettext_lazy("need"),
    "timeline": gettext_lazy("timeline"),
}
# Short notes from a qualifying call, not documents.
BANT_MAX_LENGTH = 500
OFFER_FIELDS = {
    "amount": gettext_lazy("amount"),
    "expected_close_date": gettext_lazy("expected close date"),
}


def stage_owners(version: CriteriaVersion | None, today: date) -> dict[str, set[Team]]:
    """The teams owning each stage: as the version's definitions say where they are in
    effect, otherwise DEFAULT_OWNING_TEAM."""
    owners = {
        stage: {team} if team else set(TEAM_ROLES) for stage, team in DEFAULT_OWNING_TEAM.items()
    }
    if version is not None:
        for stage, team, effective_from in version.definitions.values_list(
            "stage", "owning_team", "effective_from"
        ):
            if effective_from is None or effective_from <= today:
                owners[stage] = {Team(team)}
    return owners


def check_actor(actor, from_stage: Stage, to_stage: Stage, owners: dict[str, set[Team]]) -> None:
    """Refuse the move unless the actor may make it (see ALLOWED_SOURCES for which moves exist).

    The engine (no actor) moves only between contact, lead and MQL. An admin may make every
    move. Otherwise the actor's team must own: the target, to park a lead (nurture,
    disqualified: either team) or take it back out; SQL, to accept a lead; in any other
    case the source or the target stage.
    """
    values = {"from": from_stage.label, "to": to_stage.label}
    if actor is None:
        if from_stage in engine.AUTOMATIC_STAGES and to_stage in engine.AUTOMATIC_STAGES:
            return
        raise TransitionForbidden(
            _(
                "The scoring rules move leads only between contact, lead and marketing "
                "qualified; a person moves a lead from %(from)s to %(to)s."
            )
            % values
        )
    roles = set(actor.roles)
    if actor.is_superuser or Role.ADMIN in roles:
        return
    if to_stage in PARKING_STAGES:
        allowed = set(TEAM_ROLES)
    elif from_stage in PARKING_STAGES:
        allowed = owners[to_stage]
    elif to_stage == ACCEPTANCE_STAGE:
        allowed = owners[ACCEPTANCE_STAGE]
    else:
        allowed = owners[from_stage] | owners[to_stage]
    if any(roles & TEAM_ROLES[team] for team in allowed):
        return
    raise TransitionForbidden(
        _("Your role may not move a lead from %(from)s to %(to)s; that is for %(teams)s.")
        % {**values, "teams": ", ".join(sorted(str(Team(team).label) for team in allowed))}
    )


def checked_details(to_stage: Stage, details: Mapping, today: date) -> dict:
    """The details the move records, checked and normalised for JSON: BANT to accept a lead
    as SQL, an offer for an opportunity, nothing otherwise."""
    needed = DETAILS_REQUIRED.get(to_stage)
    optional = DETAILS_OPTIONAL.get(to_stage)
    for key in details:
        if key not in (needed, optional):
            raise TransitionIncomplete(
                _("%(key)s is not recorded when a lead moves to %(stage)s.")
                % {"key": key, "stage": to_stage.label},
                field=str(key),
            )
    if needed == "bant":
        return {"bant": _checked_bant(details.get("bant"))}
    if needed == "offer":
        return {"offer": _checked_offer(details.get("offer"), today)}
    if optional and optional in details:
        choices = RejectionReason if optional == "rejection" else LossReason
        code = str(details[optional])
        if code not in choices.values:
            raise TransitionIncomplete(_("Choose one of the listed reasons."), field=optional)
        return {optional: code}
    return {}


def _checked_bant(value) -> dict[str, str]:
    value = value if isinstance(value, Mapping) else {}
    if unknown := sorted(set(value) - set(BANT_FIELDS)):
        raise TransitionIncomplete(
            _("BANT is budget, authority, need and timeline; not %(unknown)s.")
            % {"unknown": ", ".join(map(str, unknown))},
            field="bant",
        )
    bant = {name: str(value.get(name) or "").strip() for name in BANT_FIELDS}
    if missing := [str(label) for name, label in BANT_FIELDS.items() if not bant[name]]:
        raise TransitionIncomplete(
            _(
                "Record budget, authority, need and timeline (BANT) to accept this lead as "
                "sales qualified; missing: %(missing)s."
            )
            % {"missing": ", ".join(missing)},
            field="bant",
        )
    if any(len(text) > BANT_MAX_LENGTH for text in bant.values()):
        raise TransitionIncomplete(
            _("Keep each BANT answer to at most %(max)s characters.") % {"max": BANT_MAX_LENGTH},
            field="bant",
        )
    return bant


def _checked_offer(value, today: date) -> dict[str, str]:
    value = value if isinstance(value, Mapping) else {}
    if unknown := sorted(set(value) - set(OFFER_FIELDS)):
        raise TransitionIncomplete(
            _("An offer is an amount and an expected close date; not %(unknown)s.")
            % {"unknown": ", ".join(map(str, unknown))},
            field="offer",
        )
    if missing := [
        str(label) for name, label in OFFER_FIELDS.items() if value.get(name) in (None, "")
    ]:
        raise TransitionIncomplete(
            _("An opportunity needs an offer; missing: %(missing)s.")
            % {"missing": ", ".join(missing)},
            field="offer",
        )
    try:
        amount = Decimal(str(value["amount"]).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise TransitionIncomplete(
            _("The offer's amount must be a number above zero."), field="offer"
        )
    close_date = value["expected_close_date"]
    if not isinstance(close_date, date):
        try:
            close_date = date.fromisoformat(str(close_date).strip())
        except ValueError:
            raise TransitionIncomplete(
                _("Give the expected close date as a date, such as 2026-12-31."), field="offer"
            ) from None
    if close_date < today:
        raise TransitionIncomplete(
            _("The expected close date cannot be in the past."), field="offer"
        )
    return {"amount": str(amount), "expected_close_date": close_date.isoformat()}


def transition(
    *,
    lead_id: int,
    to_stage: Stage | str,
    actor=None,
    reason: str = "",
    expected_stage: Stage | str | None = None,
    criteria_version: CriteriaVersion | None = None,
    details: dict | None = None,
) -> StageTransition:
    """Move one lead to `to_stage`, recording from, to, who, why, when, the score and the
    details the policy asks for (BANT for SQL, an offer for an opportunity).

    The row is locked for the duration, so two people moving the same lead at once are
    serialised: the second sees the first one's stage and, when it passed `expected_stage`,
    gets a TransitionConflict instead of silently overwriting. The record names the criteria
    version in force (the one whose policy moved the lead, when `actor` is None).

    The stage policy is checked under the lock, against the stage the lead is really in:
    which moves exist (ALLOWED_SOURCES), who may make them (`check_actor`, by the teams owning
    the stages in the version in force: TransitionForbidden) and what they need (a reason,
    BANT, an offer: TransitionIncomplete). A refused move changes nothing.
    """
    to_stage = Stage(to_stage)
    reason = reason.strip()
    details = details or {}
    today = timezone.localdate()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
        if lead is None:
            raise TransitionRefused(_("This lead does not exist (any more)."))
        if lead.merged_into_id:
            raise TransitionRefused(_("This lead was merged into another lead."))
        if expected_stage is not None and lead.stage != expected_stage:
            raise TransitionConflict(
                _("Someone moved this lead to %(stage)s meanwhile; nothing was changed.")
                % {"stage": lead.get_stage_display()}
            )
        if lead.stage == to_stage:
            raise TransitionRefused(
                _("This lead is in %(stage)s already.") % {"stage": to_stage.label}
            )
        from_stage = Stage(lead.stage)
        if from_stage not in ALLOWED_SOURCES[to_stage]:
            raise TransitionRefused(
                _("A lead moves to %(to)s only from %(sources)s; this one is in %(from)s.")
                % {
                    "to": to_stage.label,
                    "from": from_stage.label,
                    "sources": ", ".join(
                        str(stage.label) for stage in Stage if stage in ALLOWED_SOURCES[to_stage]
                    ),
                }
            )
        version = criteria_version or CriteriaVersion.objects.active()
        # The engine's moves need no owners: only people's moves depend on teams.
        owners = stage_owners(version, today) if actor is not None else {}
        check_actor(actor, from_stage, to_stage, owners)
        if to_stage in STAGES_NEEDING_A_REASON and not reason:
            raise TransitionIncomplete(
                _("Say why this lead moves to %(stage)s.") % {"stage": to_stage.label},
                field="reason",
            )
        record = StageTransition.objects.create(
            lead=lead,
            from_stage=from_stage,
            to_stage=to_stage,
            actor=actor,
            reason=reason,
            score=lead.score,
            criteria_version=version,
            details=checked_details(to_stage, details, today),
        )
        lead.stage = to_stage
        lead.save(update_fields=["stage", "updated_at"])
    return record


# --- Scoring ---------------------------------------------------------------------------------

_rules_cache: dict[int, engine.Rules] = {}
_rules_lock = threading.Lock()


def active_version() -> CriteriaVersion | None:
    return CriteriaVersion.objects.active()


def rules_of(version: CriteriaVersion) -> engine.Rules:
    """The engine's reading of a version; cached per process for published versions, which
    never change."""
    if version.is_draft:
        return engine.Rules.of(version)
    with _rules_lock:
        if version.pk not in _rules_cache:
            _rules_cache[version.pk] = engine.Rules.of(version)
        return _rules_cache[version.pk]


def profiling_purposes() -> list[int]:
    """Ids of the purposes profiling is done on consent for. While there are any, a
    lead's behaviour is scored only with a current grant of one of them (GDPR art. 6(1)(a),
    22); with none (profiling on legitimate interest, or none asked), everyone's is."""
    # Switched-off purposes count too: switching the purpose off stops asking for consent,
    # it does not make profiling lawful for those who never gave it or withdrew it.
    return list(
        Purpose.objects.filter(is_profiling=True, legal_basis=LegalBasis.CONSENT).values_list(
            "pk", flat=True
        )
    )


def may_profile(lead_id: int, purposes: list[int] | None = None) -> bool:
    """Whether the lead's behaviour may be scored now (see profiling_purposes)."""
    purposes = profiling_purposes() if purposes is None else purposes
    if not purposes:
        return True
    return any(
        record.granted and record.purpose_id in purposes
        for record in consent_status(lead_id).values()
    )


def rescore_everyone(*, reason: str = "") -> RescoreRun | None:
    """Score every lead again with the active version, in the background (a RescoreRun with
    its progress), e.g. when what scoring may read changes. None before anything is
    published."""
    version = active_version()
    if version is None:
        return None
    with transaction.atomic():
        run = RescoreRun.objects.create(version=version, total=Lead.objects.active().count())
        request_task(RESCORE_ALL_TASK, run.pk, dedupe_key=f"rescore-all:{run.pk}")
    return run


def rescore_after_purpose_change(*, purpose_id: int, changes: Mapping, **_signal) -> None:
    """Whether profiling rests on consent decides what every lead's score may read: when a
    purpose's profiling flag, legal basis or activity changes, score everyone again
    (consent.signals.purpose_changed)."""
    touched = {"is_profiling", "legal_basis", "is_active"} & set(changes)
    profiling = changes.get("is_profiling", [None, None])
    is_or_was = any(profiling) or Purpose.objects.filter(pk=purpose_id, is_profiling=True).exists()
    if touched and is_or_was:
        rescore_everyone()


def rescore_after_consent(*, subject_ids, purpose_keys, **_signal) -> None:
    """A choice about profiling changes what a lead's score may read: ask for a re-score,
    in the transaction that recorded the choice (consent.signals.consents_recorded)."""
    profiling = Purpose.objects.filter(key__in=set(purpose_keys), is_profiling=True)
    if not profiling.exists():
        return
    for subject_id in set(subject_ids):
        request_task(RESCORE_TASK, subject_id, dedupe_key=f"rescore:{subject_id}")


def countable_events(rule_sets: list[engine.Rules], now: datetime) -> QuerySet[Event] | None:
    """The events any of these rule sets can count: of their types, within their longest
    window (the engine picks each rule's own from them). None when no rule reads events."""
    engagement = [rule for rules in rule_sets for rule in rules.rules if rule.kind == "engagement"]
    if not engagement:
        return None
    named = {rule.event_type for rule in engagement if rule.event_type}
    if all(rule.event_type for rule in engagement):
        events = Event.objects.filter(type__in=named)
    else:
        # A rule without a type counts every event but captures; a named type still counts.
        events = Event.objects.filter(Q(type__in=named) | ~Q(type=EventType.CAPTURE))
    if all(rule.window_days for rule in engagement):
        longest = max(rule.window_days for rule in engagement)
        events = events.filter(occurred_at__gte=now - timedelta(days=longest))
    return events


def events_for_scoring(lead_id: int, rules: engine.Rules, now: datetime) -> list[engine.EventFact]:
    """The lead's events the rules can count."""
    events = countable_events([rules], now)
    if events is None:
        return []
    return [
        engine.EventFact(type=type_, url=url, occurred_at=occurred_at)
        for type_, url, occurred_at in events.filter(lead_id=lead_id).values_list(
            "type", "url", "occurred_at"
        )
    ]


def rescore_lead(
    *, lead_id: int, now: datetime | None = None, version: CriteriaVersion | None = None
) -> engine.Score | None:
    """Score one lead with the active criteria version, store the score with its points per
    criterion, and move it between contact, lead and MQL as the version's policy says.

    Idempotent: scoring the same lead twice with nothing changed writes the same score and
    moves nothing. Does nothing before the first version is published, or for a lead merged
    away or gone.
    """
    version = version or active_version()
    if version is None:
        return None
    rules = rules_of(version)
    now = now or timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id, merged_into__isnull=True).first()
        if lead is None:
            return None
        score = engine.score_lead(
            lead,
            events_for_scoring(lead_id, rules, now),
            rules,
            now,
            may_profile=may_profile(lead_id),
        )
        scores = {
            "score": score.total,
            "fit_score": score.fit,
            "engagement_score": score.engagement,
            "buying_stage": score.buying_stage,
        }
        if any(getattr(lead, name) != value for name, value in scores.items()):
            Lead.objects.filter(pk=lead_id).update(**scores)
        LeadScore.objects.update_or_create(
            lead_id=lead_id,
            defaults={"version": score.version, "points": score.points, "scored_at": now},
        )
        from_stage = lead.stage
        for stage in engine.earned_stages(from_stage, score, downgrade=rules.downgrade_on_decay):
            transition(
                lead_id=lead_id,
                to_stage=stage,
                actor=None,
                reason=automatic_reason(stage, score, rules, from_stage=from_stage),
                criteria_version=version,
            )
            from_stage = stage
    return score


def automatic_reason(
    stage: Stage, score: engine.Score, rules: engine.Rules, *, from_stage: str = ""
) -> str:
    """Why the engine moved a lead (to `stage`, from `from_stage`), in words a marketer can
    check."""
    values = {"version": rules.version, "score": score.total}
    order = [Stage.CONTACT, Stage.LEAD, Stage.MQL]
    if from_stage in order and order.index(Stage(from_stage)) > order.index(stage):
        return _("No longer qualifies under version %(version)s (score %(score)s).") % values
    if stage == Stage.LEAD and score.is_lead:
        return _("Meets the lead definition of version %(version)s.") % values
    if stage == Stage.MQL:
        if rules.mql_threshold is not None and score.total >= rules.mql_threshold:
            return _(
                "Score %(score)s reached the MQL threshold of %(threshold)s (version %(version)s)."
            ) % {**values, "threshold": rules.mql_threshold}
        met = sum(1 for r in score.results if r.rule.counts_towards_mql and r.met)
        return _("Meets %(met)s of the criteria counting towards MQL (version %(version)s).") % {
            **values,
            "met": met,
        }
    return _("No longer qualifies under version %(version)s (score %(score)s).") % values


def explanation(lead: Lead) -> dict | None:
    """The stored score of a lead, criterion by criterion: what matched and its points, the
    fit and engagement subtotals and the version. None when the lead was never scored."""
    stored = LeadScore.objects.for_lead(lead.pk)
    if stored is None:
        return None
    version = CriteriaVersion.objects.filter(number=stored.version).first()
    if version is None:
        return None
    rules = rules_of(version)
    points = list(stored.points or [])
    lines = []
    for position, rule in enumerate(rules.rules):
        value = points[position] if position < len(points) else 0
        lines.append(
            {
                "criterion": rule.name,
                "kind": rule.kind,
                "met": bool(value) if rule.kind == "lead_definition" else value != 0,
                "points": 0 if rule.kind == "lead_definition" else value,
            }
        )
    reads_behaviour = any(rule.kind == "engagement" for rule in rules.rules)
    return {
        "version": version.number,
        # Why the engagement lines are empty: the person did not consent to profiling.
        "behaviour_not_scored": reads_behaviour and not may_profile(lead.pk),
        "score": lead.score,
        "fit": lead.fit_score,
        "engagement": lead.engagement_score,
        "buying_stage": lead.buying_stage,
        "scored_at": stored.scored_at,
        "lines": lines,
    }


# --- Versions --------------------------------------------------------------------------------


class VersionRefused(Exception):
    """The version cannot be changed or published; the message says why."""


def start_draft(*, actor) -> CriteriaVersion:
    """The draft to edit: the existing one, or a copy of the active version (or an empty one
    before anything was published)."""
    with transaction.atomic():
        draft = CriteriaVersion.objects.select_for_update().filter(status=VersionStatus.DRAFT)
        if existing := draft.first():
            return existing
        active = active_version()
        number = (CriteriaVersion.objects.aggregate(Max("number"))["number__max"] or 0) + 1
        version = CriteriaVersion.objects.create(
            number=number,
            status=VersionStatus.DRAFT,
            created_by=actor,
            mql_threshold=active.mql_threshold if active else None,
            mql_criteria_needed=active.mql_criteria_needed if active else None,
            downgrade_on_decay=active.downgrade_on_decay if active else False,
        )
        if active:
            copy_rules(active, version)
    return version


def copy_rules(source: CriteriaVersion, target: CriteriaVersion) -> None:
    for criterion in source.criteria.all():
        criterion.pk = None
        criterion.version = target
        criterion.save()
    for definition in source.definitions.all():
        definition.pk = None
        definition.version = target
        definition.save()


def publish(*, version: CriteriaVersion, actor) -> RescoreRun:
    """Make the draft the active version and ask for every lead to be scored with it.

    The re-score runs in the background (RescoreRun shows its progress); the request for it
    is written in this transaction, so it survives a broker outage.
    """
    with transaction.atomic():
        version = CriteriaVersion.objects.select_for_update().get(pk=version.pk)
        if not version.is_draft:
            raise VersionRefused(_("Only a draft can be published."))
        if not version.criteria.exists():
            raise VersionRefused(_("Add at least one criterion before publishing."))
        CriteriaVersion.objects.filter(status=VersionStatus.PUBLISHED).update(
            status=VersionStatus.RETIRED
        )
        version.status = VersionStatus.PUBLISHED
        version.published_by = actor
        version.published_at = timezone.now()
        version.save(update_fields=["status", "published_by", "published_at"])
        run = RescoreRun.objects.create(version=version, total=Lead.objects.active().count())
        request_task(RESCORE_ALL_TASK, run.pk, dedupe_key=f"rescore-all:{run.pk}")
    return run


# Leads per transaction of a full re-score: progress moves every second or so.
RESCORE_CHUNK = 20_000


def prepare_rescore(*, run_id: int) -> None:
    """Before a worker works a run: have the event tallies its version reads ready before the
    chunks start (registering a new kind holds event writers back for a moment, which inside
    a chunk's transaction would last the whole chunk; see scoring/counters.py), and take
    back the ranges a worker that died left unfinished."""
    with transaction.atomic():
        run = RescoreRun.objects.select_for_update().select_related("version").get(pk=run_id)
        if run.finished_at is not None:
            return
        if run.in_flight:
            run.to_redo = [*run.in_flight, *run.to_redo]
            run.in_flight = []
            run.save(update_fields=["in_flight", "to_redo"])
    if connection.vendor == "postgresql":
        counters.prepare(rules_of(run.version))


def rescore_chunk(*, run_id: int, now: datetime | None = None) -> bool:
    """Score the next chunk of leads of a re-score run; False when there is none left.

    Three short steps, so several workers (or connections of one) score chunks of the same
    run at once: take a range of ids under the run's lock, score it in its own transaction,
    then count it under the lock again. A worker that dies loses only its unfinished ranges,
    which the next one scores again first (scoring is idempotent). A run whose version is no
    longer the active one stops: the newer version has its own run.
    """
    now = now or timezone.now()
    claimed = _claim_range(run_id, now)
    if claimed is None:
        return False
    version, id_range = claimed
    try:
        moved = rescore_leads(id_range=id_range, version=version, now=now)
    except Exception:
        _give_back_range(run_id, id_range)
        raise
    _finish_range(run_id, id_range, moved, now)
    return True


def _give_back_range(run_id: int, id_range: tuple[int, int]) -> None:
    """A range that failed goes back to the front, for this run's next worker."""
    with transaction.atomic():
        run = RescoreRun.objects.select_for_update().get(pk=run_id)
        if list(id_range) in run.in_flight:
            run.in_flight = [span for span in run.in_flight if span != list(id_range)]
            run.to_redo = [list(id_range), *run.to_redo]
            run.save(update_fields=["in_flight", "to_redo"])


def _claim_range(run_id: int, now: datetime) -> tuple[CriteriaVersion, tuple[int, int]] | None:
    with transaction.atomic():
        run = RescoreRun.objects.select_for_update().select_related("version").get(pk=run_id)
        if run.finished_at is not None:
            return None
        if run.version.status != VersionStatus.PUBLISHED:
            run.finished_at = now
            run.save(update_fields=["finished_at"])
            return None
        if run.to_redo:
            low, high = run.to_redo.pop(0)
        else:
            ahead = Lead.objects.active().filter(pk__gt=run.last_lead_id).order_by("pk")
            ids = ahead.values_list("pk", flat=True)
            low = ids.first()
            if low is None:
                _finish_run(run, now)
                return None
            # A range of ids, not a list: the database walks the leads' rows, tallies and
            # events in id order.
            high = next(iter(ids[RESCORE_CHUNK - 1 : RESCORE_CHUNK]), None) or ids.last()
            run.last_lead_id = high
        run.in_flight = [*run.in_flight, [low, high]]
        run.save(update_fields=["last_lead_id", "in_flight", "to_redo"])
    return run.version, (low, high)


def _finish_range(run_id: int, id_range: tuple[int, int], moved: int, now: datetime) -> None:
    with transaction.atomic():
        run = RescoreRun.objects.select_for_update().select_related("version").get(pk=run_id)
        if list(id_range) not in run.in_flight:
            return  # scored twice (taken back by a second worker): counted once
        run.in_flight = [span for span in run.in_flight if span != list(id_range)]
        low, high = id_range
        run.done += Lead.objects.active().filter(pk__range=(low, high)).count()
        run.moved += moved
        run.save(update_fields=["in_flight", "done", "moved"])
        if not run.in_flight and not run.to_redo:
            nothing_ahead = not Lead.objects.active().filter(pk__gt=run.last_lead_id).exists()
            if nothing_ahead:
                _finish_run(run, now)


def _finish_run(run: RescoreRun, now: datetime) -> None:
    """Mark the run finished (its range handed out and scored), and stop tallying kinds of
    event neither the active version nor the draft reads."""
    if run.in_flight or run.to_redo:
        return  # another worker is still scoring; it finishes the run
    run.finished_at = now
    run.save(update_fields=["finished_at"])
    if connection.vendor == "postgresql":
        # After the commit: deleting a kind's tallies may take a while.
        transaction.on_commit(prune_tallies)


def prune_tallies() -> int:
    """Stop tallying the kinds of event neither the active version nor the draft reads."""
    versions = CriteriaVersion.objects.filter(
        status__in=[VersionStatus.PUBLISHED, VersionStatus.DRAFT]
    )
    return counters.prune(rules_of(version) for version in versions)


def rescore_leads(
    *,
    version: CriteriaVersion,
    now: datetime,
    lead_ids: list[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> int:
    """Score these leads (`lead_ids`, or the active leads of `id_range`, both ends included)
    with `version`; returns how many changed stage.

    On PostgreSQL in one set-based statement (scoring/compiled.py, held equal to the engine
    by property tests); elsewhere one lead at a time through the engine.
    """
    if connection.vendor == "postgresql":
        from scoring import compiled

        return compiled.rescore_range(
            rules=rules_of(version),
            version_id=version.pk,
            now=now,
            lead_ids=lead_ids,
            id_range=id_range,
            profiling_purposes=profiling_purposes(),
        )
    if lead_ids is None:
        low, high = id_range
        lead_ids = list(
            Lead.objects.active().filter(pk__range=(low, high)).values_list("pk", flat=True)
        )
    before = dict(Lead.objects.filter(pk__in=lead_ids).values_list("pk", "stage"))
    for lead_id in lead_ids:
        rescore_lead(lead_id=lead_id, now=now, version=version)
    after = dict(Lead.objects.filter(pk__in=lead_ids).values_list("pk", "stage"))
    return sum(1 for pk, stage in after.items() if before.get(pk) != stage)


def rescore_fading(*, now: datetime | None = None, chunk: int = RESCORE_CHUNK) -> int:
    """Score again every lead holding engagement points: they fade and leave their windows
    with time alone, so the nightly run catches what no event triggers. Returns how many
    leads changed stage."""
    version = active_version()
    if version is None:
        return 0
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # Outside the chunks' transactions: a new kind briefly holds event writers back.
        counters.prepare(rules_of(version))
    moved, last_id = 0, 0
    fading = Lead.objects.active().exclude(engagement_score=0).order_by("pk")
    while ids := list(fading.filter(pk__gt=last_id).values_list("pk", flat=True)[:chunk]):
        if CriteriaVersion.objects.active() != version:
            break  # published meanwhile: the new version's run scores everyone
        with transaction.atomic():
            moved += rescore_leads(lead_ids=ids, version=version, now=now)
        last_id = ids[-1]
    return moved


def rescore_many(*, lead_ids: list[int], now: datetime | None = None) -> int:
    """Score these leads with the active version (one task for a burst of changes); returns
    how many changed stage."""
    version = active_version()
    if version is None:
        return 0
    return rescore_leads(
        lead_ids=list(dict.fromkeys(lead_ids)), version=version, now=now or timezone.now()
    )
