from django import template
from django.template.loader import render_to_string

from leads.models import Stage
from quota import services
from quota.models import QuotaTarget
from quota.views import STAGE_NAMES, sees_everything

register = template.Library()

BAR_WIDTH = 200


@register.simple_tag(takes_context=True)
def quota_tracking(context) -> str:
    """The active saved target's required against actual leads per week, or nothing."""
    request = context.get("request")
    if request is None or not sees_everything(request.user):
        return ""
    target = QuotaTarget.objects.active()
    if target is None:
        return ""
    tracking = services.track_target(target)

    def cell(pair: tuple[int | None, int]) -> dict:
        required, actual = pair
        short = required is not None and actual < required
        return {"required": required, "actual": actual, "short": short}

    stages = [Stage(stage) for stage in tracking.stages]
    largest = max([1, *(max(r or 0, a) for r, a in tracking.totals.values())])
    bars = []
    for i, stage in enumerate(stages):
        required, actual = tracking.totals[stage]
        bars.append(
            {
                "name": STAGE_NAMES[stage],
                "y_text": 20 * i + 14,
                "y": 20 * i + 2,
                "y_actual": 20 * i + 10,
                "required_width": round(BAR_WIDTH * (required or 0) / largest),
                "actual_width": round(BAR_WIDTH * actual / largest),
            }
        )
    return render_to_string(
        "quota/tracking.html",
        {
            "tracking": tracking,
            "stage_names": [STAGE_NAMES[stage] for stage in stages],
            "weeks": [
                {"starts_on": week.starts_on, "cells": [cell(week.cells[s]) for s in stages]}
                for week in tracking.weeks
            ],
            "totals": [cell(tracking.totals[s]) for s in stages],
            "bars": bars,
            "bars_height": 20 * len(stages) + 4,
        },
        request=request,
    )
