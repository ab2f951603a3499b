"""Recording what leads did: page views, e-mail clicks, calls, meetings."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When
from django.db.models.functions import Coalesce, Greatest

from leads.models import Event, EventType, Lead
from leads.services.capture import RESCORE_TASK
from outbox.services import request_tasks


@dataclass(frozen=True)
class NewEvent:
    """One event to record, already validated."""

    lead_id: int
    type: EventType | str
    occurred_at: datetime
    url: str = ""
    properties: Mapping = field(default_factory=dict)


class LeadsGone(Exception):
    """Leads were merged or deleted between validating the events and recording them."""

    def __init__(self, lead_ids: Sequence[int]):
        self.lead_ids = list(lead_ids)
        super().__init__(self.lead_ids)


def record_events(*, events: Sequence[NewEvent], actor=None) -> list[Event]:
    """Record `events`, all or none, and ask for each touched lead to be scored again.

    In one transaction: the events are inserted in one statement, each lead's last activity
    moves forward to its newest event (never back), and one outbox row per lead requests its
    rescore. Raises LeadsGone, saving nothing, when a lead is no longer active. `actor` is
    who sent them; no column records it yet.
    """
    if not events:
        return []
    newest: dict[int, datetime] = {}
    for event in events:
        newest[event.lead_id] = max(newest.get(event.lead_id, event.occurred_at), event.occurred_at)
    lead_ids = sorted(newest)
    with transaction.atomic():
        # Lock the leads in id order: two batches for the same leads queue up instead of
        # deadlocking, and no lead is merged or erased while its events go in. NO KEY: the
        # events' foreign keys (and captures adding events) need not wait for this lock.
        active = set(
            Lead.objects.active()
            .filter(pk__in=lead_ids)
            .order_by("pk")
            .select_for_update(no_key=True)
            .values_list("pk", flat=True)
        )
        if gone := [pk for pk in lead_ids if pk not in active]:
            raise LeadsGone(gone)
        recorded = Event.objects.bulk_create(
            [
                Event(
                    lead_id=event.lead_id,
                    type=event.type,
                    url=event.url,
                    occurred_at=event.occurred_at,
                    properties=dict(event.properties),
                )
                for event in events
            ]
        )
        batch_newest = Case(
            *(When(pk=pk, then=Value(moment)) for pk, moment in newest.items()),
            output_field=DateTimeField(),
        )
        Lead.objects.filter(pk__in=lead_ids).update(
            last_activity_at=Greatest(Coalesce("last_activity_at", batch_newest), batch_newest)
        )
        request_tasks((RESCORE_TASK, [lead_id], f"rescore:{lead_id}") for lead_id in lead_ids)
    return recorded
