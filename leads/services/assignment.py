"""Giving leads to an owner, with the history of who gave which lead to whom."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from leads.models import Lead, OwnerChange


def assign_owner(
    *, leads: Iterable[Lead | int], owner: User | None, actor: User, reason: str = ""
) -> int:
    """Make `owner` the owner of `leads` (None: nobody), recording one OwnerChange per lead.

    Leads that `owner` already owns, and merged leads, are left alone. Returns how many
    leads changed owner.
    """
    ids = {lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads}
    if not ids:
        return 0
    with transaction.atomic():
        # Lock the rows, in id order so two bulk assignments cannot deadlock, and read each
        # previous owner under the lock: a concurrent assignment either happened before ours
        # and is its `from_owner`, or waits and sees ours.
        changing = list(
            Lead.objects.active()
            .filter(pk__in=ids)
            .exclude(owner=owner)
            .select_for_update()
            .order_by("pk")
            .only("pk", "owner_id")
        )
        if not changing:
            return 0
        OwnerChange.objects.bulk_create(
            OwnerChange(
                lead=lead, from_owner_id=lead.owner_id, to_owner=owner, actor=actor, reason=reason
            )
            for lead in changing
        )
        Lead.objects.filter(pk__in=[lead.pk for lead in changing]).update(
            owner=owner, updated_at=timezone.now()
        )
    return len(changing)
