"""Read-only aggregates for the home page and reports."""

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from leads.models import FUNNEL_STAGES, Lead, Stage

# Counting a million rows on every page view costs hundreds of milliseconds; a minute-old
# figure is good enough for an overview, and the page says when it was counted.
STAGE_COUNTS_SECONDS = 60


def stage_counts() -> dict:
    """How many active leads stand in each stage, in funnel order, zero included."""

    def count() -> dict:
        counts = dict(Lead.objects.active().values_list("stage").annotate(n=Count("id")).order_by())
        ordered = [*FUNNEL_STAGES, Stage.LOST, Stage.NURTURE, Stage.DISQUALIFIED]
        return {
            "rows": [(stage.value, counts.get(stage.value, 0)) for stage in ordered],
            "counted_at": timezone.now(),
        }

    result = cache.get_or_set("funnel:stage-counts", count, STAGE_COUNTS_SECONDS)
    result["rows"] = [(Stage(value), n) for value, n in result["rows"]]
    result["largest"] = max((n for _stage, n in result["rows"]), default=0) or 1
    return result
