"""Read-only aggregates for the home page and reports."""

from django.db.models import Count

from leads.models import FUNNEL_STAGES, Lead, Stage


def stage_counts() -> list[tuple[Stage, int]]:
    """How many active leads stand in each stage, in funnel order, zero included."""
    counts = dict(Lead.objects.active().values_list("stage").annotate(n=Count("id")).order_by())
    ordered = [*FUNNEL_STAGES, Stage.LOST, Stage.NURTURE, Stage.DISQUALIFIED]
    return [(stage, counts.get(stage.value, 0)) for stage in ordered]
