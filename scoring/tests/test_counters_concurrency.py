"""The tally triggers under concurrent transactions, each on its own connection: a recount
(events deleted or moved) meeting events being added, two recounts of one lead, and a kind
pruned while an event of it is being written. Found by review, where one connection in one
transaction could not show them."""

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from leads.models import Event, EventType
from leads.tests.factories import LeadFactory
from scoring import counters, engine
from scoring.models import EventCounter, LeadCounter

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
INSERT = (
    "INSERT INTO leads_event (lead_id, type, url, occurred_at, properties, created_at) "
    "VALUES (%s, 'page_view', %s, %s, '{}', now())"
)


def rule(number: int, **spec) -> engine.Rule:
    return engine.Rule(id=number, kind="engagement", name=f"Rule {number}", points=10, **spec)


def other_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        password=db["PASSWORD"] or None,
    )


def in_a_thread_after_a_while(statement: str, params: list) -> threading.Thread:
    """Run the statement on a connection of its own and commit; return once it had a second
    to get blocked."""

    def run() -> None:
        with other_connection() as other:
            other.execute(statement, params)
            other.commit()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(1.0)
    return thread


def test_a_recount_waits_for_events_being_added_to_its_lead():
    counters.prepare(
        engine.Rules(
            version=1,
            rules=(
                rule(1, event_type=EventType.PAGE_VIEW),
                rule(2, event_type=EventType.PAGE_VIEW, url_contains="pricing"),
            ),
        )
    )
    lead = LeadFactory()
    for _ in range(2):
        Event.objects.create(
            lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/blog", occurred_at=NOW
        )
    deleted = Event.objects.filter(lead=lead).order_by("pk").first().pk
    adding = other_connection()
    adding.execute(INSERT, [lead.pk, "https://a.nl/pricing", NOW])  # a first pricing tally

    deleting = in_a_thread_after_a_while("DELETE FROM leads_event WHERE id = %s", [deleted])
    adding.commit()
    deleting.join(20)
    adding.close()

    pricing = EventCounter.objects.get(url_contains="pricing")
    assert LeadCounter.objects.get(lead_id=lead.pk, counter=pricing).count == 1
    assert LeadCounter.objects.exclude(counter=pricing).get(lead_id=lead.pk).count == 2


def test_two_recounts_of_one_lead_take_turns():
    counters.prepare(engine.Rules(version=1, rules=(rule(1, event_type=EventType.PAGE_VIEW),)))
    lead = LeadFactory()
    for _ in range(4):
        Event.objects.create(
            lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/blog", occurred_at=NOW
        )
    first, second = Event.objects.filter(lead=lead).order_by("pk").values_list("pk", flat=True)[:2]
    deleting = other_connection()
    deleting.execute("DELETE FROM leads_event WHERE id = %s", [first])

    also_deleting = in_a_thread_after_a_while("DELETE FROM leads_event WHERE id = %s", [second])
    deleting.commit()
    also_deleting.join(20)
    deleting.close()

    assert LeadCounter.objects.get(lead_id=lead.pk).count == 2


def test_an_event_written_while_its_kind_is_pruned_is_kept():
    counters.prepare(engine.Rules(version=1, rules=(rule(1, event_type=EventType.PAGE_VIEW),)))
    lead = LeadFactory()
    adding = other_connection()
    adding.execute(INSERT, [lead.pk, "https://a.nl/x", NOW])

    assert counters.prune([]) == 1
    adding.commit()
    adding.close()

    assert Event.objects.filter(lead=lead).count() == 1
    # The tally it added for the pruned kind goes with the next prune.
    assert counters.prune([]) == 0
    assert not LeadCounter.objects.exists()
