"""Stage changes for many leads at once, one `transition` per lead."""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from leads.models import Lead, Stage
from scoring.services import TransitionRefused, transition


def add_to_nurture(*, lead_ids: Iterable[int], actor, reason: str) -> tuple[int, list[str]]:
    """Move each lead to nurture through `transition`, recording who and why.

    Each move is its own transaction: a lead that is in nurture already, merged away or
    gone is reported, and the others still move. Returns how many moved and, per lead that
    did not, a line naming it and saying why.
    """
    lead_ids = list(dict.fromkeys(lead_ids))
    names = {
        lead.pk: str(lead)
        for lead in Lead.objects.filter(pk__in=lead_ids).only(
            "id", "email", "first_name", "last_name"
        )
    }
    moved = 0
    refusals: list[str] = []
    for lead_id in lead_ids:
        try:
            transition(lead_id=lead_id, to_stage=Stage.NURTURE, actor=actor, reason=reason)
        except TransitionRefused as refused:
            name = names.get(lead_id) or _("Lead %(id)s") % {"id": lead_id}
            refusals.append(f"{name}: {refused}")
        else:
            moved += 1
    return moved, refusals
