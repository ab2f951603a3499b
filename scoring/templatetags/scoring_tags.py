"""Template tags that show scoring's records on other apps' pages."""

from django import template

from leads.models import Lead
from scoring.models import StageTransition

register = template.Library()

# A lead moves stage a handful of times; a longer history is cut, not paged.
STAGE_HISTORY_LIMIT = 50


@register.inclusion_tag("scoring/stage_history.html")
def stage_history(lead: Lead) -> dict:
    """The lead's stage changes, newest first: from, to, who, why, when and the score then."""
    rows = list(
        StageTransition.objects.for_lead(lead.pk).select_related("actor")[: STAGE_HISTORY_LIMIT + 1]
    )
    return {
        "transitions": rows[:STAGE_HISTORY_LIMIT],
        "cut": len(rows) > STAGE_HISTORY_LIMIT,
        "limit": STAGE_HISTORY_LIMIT,
    }
