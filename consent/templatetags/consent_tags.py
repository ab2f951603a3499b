"""Template tags that show a data subject's consent on any page.

They take the subject's id, not a lead: consent depends on nothing else of ours.
"""

from django import template

from consent.models import ConsentRecord
from consent.services import consent_state

register = template.Library()


def panel_context(subject_id: int, *, user=None, note: str = "", error: str = "") -> dict:
    """What consent/consent_panel.html shows: where consent stands per purpose (with a
    pending double opt-in request), every grant and withdrawal newest first, and whether
    `user` may record a verbal choice or resend a confirmation.

    Every active purpose is listed, asked or not; a purpose that is no longer asked is listed
    when the subject made a choice about it, since that choice still holds.
    """
    history = list(
        ConsentRecord.objects.for_subject(subject_id)
        .select_related("purpose", "notice", "recorded_by")
        .order_by("-recorded_at", "-id")
    )
    return {
        "subject_id": subject_id,
        "purposes": list(consent_state(subject_id, records=history).values()),
        "history": history,
        "can_record": bool(user is not None and user.has_perm("consent.record_consent")),
        "note": note,
        "error": error,
    }


@register.inclusion_tag("consent/consent_panel.html", takes_context=True)
def consent_panel(context: template.Context, subject_id: int) -> dict:
    return panel_context(subject_id, user=context.get("user")) | {
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
