"""Stage transitions and scoring. `transition` is the one way a lead changes stage."""

from django.db import transaction
from django.utils.translation import gettext as _

from leads.models import Lead, Stage
from scoring.models import StageTransition

# Moving a lead out of the funnel must say why, so marketing learns from it.
STAGES_NEEDING_A_REASON = {Stage.NURTURE, Stage.DISQUALIFIED, Stage.LOST, Stage.WON}


class TransitionRefused(Exception):
    """The move is not allowed; the message says why, for the person who tried."""


class TransitionConflict(TransitionRefused):
    """Someone else moved the lead first."""


def transition(
    *,
    lead_id: int,
    to_stage: Stage | str,
    actor=None,
    reason: str = "",
    expected_stage: Stage | str | None = None,
) -> StageTransition:
    """Move one lead to `to_stage`, recording from, to, who, why, when and the score.

    The row is locked for the duration, so two people moving the same lead at once are
    serialised: the second sees the first one's stage and, when it passed `expected_stage`,
    gets a TransitionConflict instead of silently overwriting.
    """
    to_stage = Stage(to_stage)
    reason = reason.strip()
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
        if to_stage in STAGES_NEEDING_A_REASON and not reason:
            raise TransitionRefused(
                _("Say why this lead moves to %(stage)s.") % {"stage": to_stage.label}
            )
        record = StageTransition.objects.create(
            lead=lead,
            from_stage=lead.stage,
            to_stage=to_stage,
            actor=actor,
            reason=reason,
            score=lead.score,
        )
        lead.stage = to_stage
        lead.save(update_fields=["stage", "updated_at"])
    return record


def rescore_lead(*, lead_id: int) -> None:
    """Recompute one lead's score and stage from the active criteria.

    The qualification engine (criteria, versions, explanations) is not built yet: until a
    criteria version is published there is nothing to score against, so this leaves the lead
    as it is. Capture already requests it through the outbox, so nothing needs rewiring when
    the engine lands.
    """
    return None
