"""Correcting what we know about a lead: name, contact details, company, need."""

from typing import Any

from django.db import transaction

from accounts.models import User
from leads.models import Lead
from leads.services.capture import RESCORE_TASK
from leads.validation import DECISION_MAKING_SENIORITY
from outbox.services import request_task

# Fields a person may correct on the edit page. Stage and scores belong to scoring, owner to
# assignment, merged_into to merging, and the source, campaign and UTM fields record how the
# lead first came in: none of those is changed here.
EDITABLE_FIELDS = [
    "email", "first_name", "last_name", "phone", "company", "job_title", "seniority",
    "company_size", "industry", "country", "budget", "need", "timeframe",
]  # fmt: skip


class LeadMerged(Exception):
    """The lead was merged into another meanwhile; edit the survivor instead."""

    def __init__(self, survivor_id: int):
        self.survivor_id = survivor_id
        super().__init__(survivor_id)


def update_lead_profile(*, lead: Lead, actor: User, changes: dict[str, Any]) -> Lead:
    """Save corrected profile fields of `lead` and ask for it to be scored again.

    `changes` holds validated values (see LeadProfileForm) of EDITABLE_FIELDS only. A change
    of e-mail address to one that another active lead has fails with IntegrityError, which
    the caller reports as a form error. Returns the saved lead.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable profile fields: {sorted(unknown)}")
    with transaction.atomic():
        # Lock the row so a capture updating the same lead meanwhile is not overwritten.
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.merged_into_id is not None:
            raise LeadMerged(locked.merged_into_id)
        if not changes:
            return locked
        for name, value in changes.items():
            setattr(locked, name, value)
        updated = [*changes, "updated_at"]
        if "seniority" in changes:
            # Derived as capture derives it, so the flag never contradicts the seniority.
            locked.is_decision_maker = locked.seniority in DECISION_MAKING_SENIORITY
            updated.append("is_decision_maker")
        locked.save(update_fields=updated)
        # The fit score reads the profile: country, seniority, company size, budget...
        request_task(RESCORE_TASK, locked.pk, dedupe_key=f"rescore:{locked.pk}")
    return locked
