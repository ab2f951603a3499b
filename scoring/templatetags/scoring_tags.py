"""Template tags that show scoring's records on other apps' pages."""

from django import template
from django.urls import NoReverseMatch, reverse

from leads.models import Lead
from scoring.models import BuyingSignal, CriterionKind, StageTransition
from scoring.services import explanation

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


@register.inclusion_tag("scoring/score_panel.html")
def score_panel(lead: Lead) -> dict:
    """The lead's score explained: totals, the version and one line per criterion that gave
    points ("+20 Pricing page 3x in 14 days"), lead-definition rules as met or not."""
    explained = explanation(lead)
    lines = explained["lines"] if explained else []
    try:
        criteria_url = reverse("scoring:criteria")
    except NoReverseMatch:
        criteria_url = ""
    return {
        "lead": lead,
        "explained": explained,
        "buying_stage": dict(BuyingSignal.choices).get(lead.buying_stage, lead.buying_stage),
        "definition_lines": [
            line for line in lines if line["kind"] == CriterionKind.LEAD_DEFINITION
        ],
        "point_lines": [
            line
            for line in lines
            if line["kind"] != CriterionKind.LEAD_DEFINITION and line["points"]
        ],
        "criteria_url": criteria_url,
    }
