"""record_events: events go in all or none, with last activity and a rescore per lead."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Event, EventType
from leads.services.events import LeadsGone, NewEvent, record_events
from leads.tests.factories import LeadFactory
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_events_are_recorded_in_order_with_their_ids(marketer):
    lead = LeadFactory()
    now = timezone.now()

    recorded = record_events(
        events=[
            NewEvent(lead.pk, EventType.PAGE_VIEW, now, url="https://example.nl/"),
            NewEvent(lead.pk, EventType.EMAIL_CLICK, now, properties={"link": "prijzen"}),
        ],
        actor=marketer,
    )

    assert [event.pk for event in recorded] == list(
        Event.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert [event.type for event in recorded] == ["page_view", "email_click"]
    assert recorded[1].properties == {"link": "prijzen"}


def test_last_activity_moves_to_the_newest_event_and_never_back():
    now = timezone.now()
    quiet = LeadFactory(last_activity_at=None)
    busy = LeadFactory(last_activity_at=now)

    record_events(
        events=[
            NewEvent(quiet.pk, EventType.CALL, now - timedelta(days=2)),
            NewEvent(quiet.pk, EventType.MEETING, now - timedelta(days=1)),
            NewEvent(busy.pk, EventType.NOTE, now - timedelta(days=5)),
        ]
    )

    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert quiet.last_activity_at == now - timedelta(days=1)
    assert busy.last_activity_at == now


def test_each_touched_lead_gets_one_rescore_request():
    first, second = LeadFactory(), LeadFactory()
    now = timezone.now()

    record_events(events=[NewEvent(lead.pk, EventType.CALL, now) for lead in [first, second] * 3])

    messages = OutboxMessage.objects.pending().order_by("args")
    assert [(m.task, m.args) for m in messages] == [
        ("scoring.tasks.rescore_lead_task", [first.pk]),
        ("scoring.tasks.rescore_lead_task", [second.pk]),
    ]


def test_events_for_a_lead_merged_meanwhile_save_nothing():
    lead = LeadFactory()
    merged = LeadFactory(merged_into=lead)
    now = timezone.now()

    with pytest.raises(LeadsGone) as gone:
        record_events(events=[NewEvent(pk, EventType.CALL, now) for pk in (lead.pk, merged.pk)])

    assert gone.value.lead_ids == [merged.pk]
    assert Event.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_no_events_record_nothing():
    assert record_events(events=[]) == []
