"""Template tags that show a data subject's consent on any page.

They take the subject's id, not a lead: consent depends on nothing else of ours.
"""

from django import template

from consent.models import ConsentRecord, Purpose
from consent.services import consent_status

register = template.Library()


@register.inclusion_tag("consent/consent_panel.html")
def consent_panel(subject_id: int) -> dict:
    """Where consent stands per purpose, and every grant and withdrawal, newest first.

    Every active purpose is listed, asked or not; a purpose that is no longer asked is listed
    when the subject made a choice about it, since that choice still holds.
    """
    status = consent_status(subject_id)
    purposes = list(Purpose.objects.active())
    listed = {purpose.key for purpose in purposes}
    purposes += [record.purpose for key, record in sorted(status.items()) if key not in listed]
    history = list(
        ConsentRecord.objects.for_subject(subject_id)
        .select_related("purpose", "notice", "recorded_by")
        .order_by("-recorded_at", "-id")
    )
    return {
        "subject_id": subject_id,
        "purposes": [{"purpose": p, "record": status.get(p.key)} for p in purposes],
        "history": history,
    }
