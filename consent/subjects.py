"""Who a subject id names. The one place consent looks at leads, and only at call time:
consent's models depend on nothing else of ours (see consent.models)."""


def live_subject_id(subject_id: int) -> int | None:
    """The lead id this subject's consent lives under now: the lead itself, or the survivor
    it was merged into (consent.services.move_subject gave it the history). None when no lead
    is left: the person was erased."""
    from leads.models import Lead

    seen: set[int] = set()
    while subject_id not in seen:
        seen.add(subject_id)
        row = Lead.objects.filter(pk=subject_id).values("merged_into_id").first()
        if row is None:
            return None
        if row["merged_into_id"] is None:
            return subject_id
        subject_id = row["merged_into_id"]
    return None  # A merge cycle cannot happen; refusing beats looping.


def subject_email(subject_id: int) -> str:
    """The address mail to this subject goes to; empty when there is none (erased)."""
    from leads.models import Lead

    live = live_subject_id(subject_id)
    if live is None:
        return ""
    return Lead.objects.filter(pk=live).values_list("email", flat=True).first() or ""
