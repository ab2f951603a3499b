"""The per-lead event tallies the full re-score reads (scoring/counters.py and the triggers of
migration 0008) against a count from the raw events, through inserts, deletes, moves, merges,
erasure and the backfill of a newly needed kind."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory
from leads.models import Event, EventType, Lead
from leads.services.merge import merge_leads
from leads.tests.factories import EventFactory, LeadFactory
from privacy.services import erase_subject
from scoring import compiled, counters, engine
from scoring.models import EventCounter, LeadCounter
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
TYPES = [EventType.PAGE_VIEW, EventType.QUOTE_REQUEST, EventType.CAPTURE, EventType.EMAIL_OPEN]
URLS = ["", "https://bouw.nl/pricing", "https://bouw.nl/Pricing/a%_b", "https://bouw.nl/about"]


def rule(number: int, **spec) -> engine.Rule:
    return engine.Rule(id=number, kind="engagement", name=f"Rule {number}", points=10, **spec)


# Every shape of kind: any type, a named type, a URL text (written as an admin might), faded.
RULES = engine.Rules(
    version=1,
    rules=(
        rule(1),
        rule(2, event_type=EventType.PAGE_VIEW, url_contains=" /PRICING "),
        rule(3, event_type=EventType.PAGE_VIEW, per_occurrence=True, half_life_days=14),
        rule(4, event_type=EventType.CAPTURE, per_occurrence=True, half_life_days=1),
        rule(5, url_contains="%_", per_occurrence=True, half_life_days=3),
        # With a window: read from raw events, no tally.
        rule(6, event_type=EventType.QUOTE_REQUEST, window_days=7),
    ),
)


def counted(kind: EventCounter, event: Event) -> bool:
    by_type = event.type == kind.event_type or (
        kind.event_type == "" and event.type != EventType.CAPTURE
    )
    return by_type and (not kind.url_contains or kind.url_contains in event.url.lower())


def expected_tallies() -> dict[tuple[int, int], tuple[int, datetime, float]]:
    """The tallies as a count over the raw events now in the database."""
    expected = {}
    events = list(Event.objects.all())
    for kind in EventCounter.objects.all():
        by_lead: dict[int, list[datetime]] = {}
        for event in events:
            if counted(kind, event):
                by_lead.setdefault(event.lead_id, []).append(event.occurred_at)
        for lead_id, times in by_lead.items():
            newest = max(times)
            faded = (
                sum(
                    0.5 ** ((newest - t).total_seconds() / (kind.half_life_days * 86_400))
                    for t in times
                )
                if kind.half_life_days
                else 0.0
            )
            expected[lead_id, kind.pk] = (len(times), newest, faded)
    return expected


def stored_tallies() -> dict[tuple[int, int], tuple[int, datetime, float]]:
    return {
        (t.lead_id, t.counter_id): (t.count, t.newest, t.faded) for t in LeadCounter.objects.all()
    }


def assert_tallies_match() -> None:
    stored, expected = stored_tallies(), expected_tallies()
    assert stored.keys() == expected.keys()
    for key, (count, newest, faded) in expected.items():
        assert stored[key][:2] == (count, newest), key
        assert math.isclose(stored[key][2], faded, rel_tol=1e-12, abs_tol=1e-300), key


def test_a_version_needs_a_tally_per_kind_of_event_without_a_window():
    tallies = counters.prepare(RULES)

    assert sorted(tallies) == [0, 1, 2, 3, 4]
    kinds = {(c.event_type, c.url_contains, c.half_life_days) for c in EventCounter.objects.all()}
    assert kinds == {
        ("", "", 0),
        (EventType.PAGE_VIEW, "/pricing", 0),
        (EventType.PAGE_VIEW, "", 14),
        (EventType.CAPTURE, "", 1),
        ("", "%_", 3),
    }
    assert all(c.is_ready for c in EventCounter.objects.all())
    # Asked again (another version with the same kinds), nothing new.
    assert counters.prepare(RULES) == tallies
    assert EventCounter.objects.count() == 5


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.integers(0, 2),
            st.lists(
                st.tuples(
                    st.sampled_from(TYPES),
                    st.sampled_from(URLS),
                    st.integers(-3_600, 60 * 86_400),
                    st.integers(0, 999_999),
                ),
                min_size=1,
                max_size=4,
            ),
        ),
        st.tuples(st.just("delete"), st.integers(0, 2), st.integers(0, 3)),
        st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("register"), st.just(0), st.just(0)),
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=operations, early=st.booleans())
def test_tallies_equal_a_count_of_the_raw_events_whatever_happens_to_them(steps, early):
    LeadCounter.objects.all().delete()
    EventCounter.objects.all().delete()
    lead_ids = [LeadFactory().pk for _ in range(3)]
    if early:  # registered before any event (the triggers tally all) or later (a backfill)
        counters.prepare(RULES)
    for operation, lead, argument in steps:
        lead_id = lead_ids[lead]
        if operation == "add":
            Event.objects.bulk_create(
                Event(
                    lead_id=lead_id,
                    type=type_,
                    url=url,
                    occurred_at=NOW - timedelta(seconds=seconds, microseconds=micros),
                )
                for type_, url, seconds, micros in argument
            )
        elif operation == "delete":
            ids = Event.objects.filter(lead_id=lead_id).order_by("pk").values_list("pk")
            Event.objects.filter(pk__in=ids[: argument + 1]).delete()
        elif operation == "move":
            Event.objects.filter(lead_id=lead_id).update(lead_id=lead_ids[argument])
        else:
            counters.prepare(RULES)
    counters.prepare(RULES)

    assert_tallies_match()


def test_events_before_a_kind_is_needed_are_backfilled_and_later_ones_counted_once():
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/pricing", occurred_at=NOW)
    pricing = engine.Rules(version=1, rules=(RULES.rules[1],))

    counters.prepare(pricing)
    EventFactory(
        lead=lead,
        type=EventType.PAGE_VIEW,
        url="https://a.nl/pricing?x",
        occurred_at=NOW - timedelta(days=1),
    )
    counters.prepare(pricing)

    (tally,) = LeadCounter.objects.filter(lead_id=lead.pk)
    assert (tally.count, tally.newest) == (2, NOW)
    assert EventCounter.objects.get().backfill_up_to is None


def test_backfills_left_half_way_are_finished_by_the_next_preparation():
    lead = LeadFactory()
    pricing = {"event_type": EventType.PAGE_VIEW, "url_contains": "/pricing"}
    EventFactory(lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/pricing", occurred_at=NOW)
    # As workers that died between registering a kind and backfilling it leave them, one
    # registered before the second event and one after.
    EventCounter.objects.create(**pricing, backfill_up_to=Event.objects.latest("pk").pk)
    EventFactory(lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/pricing", occurred_at=NOW)
    EventCounter.objects.create(
        event_type="", url_contains="", backfill_up_to=Event.objects.latest("pk").pk
    )
    EventFactory(lead=lead, type=EventType.EMAIL_OPEN, occurred_at=NOW)
    # The triggers' share only, so far.
    assert sorted(LeadCounter.objects.values_list("count", flat=True)) == [1, 1]

    counters.prepare(engine.Rules(version=1, rules=(RULES.rules[0], RULES.rules[1])))

    assert sorted(LeadCounter.objects.values_list("count", flat=True)) == [2, 3]
    assert_tallies_match()


def test_merging_leads_moves_the_duplicates_tallies_to_the_survivor():
    counters.prepare(RULES)
    survivor, duplicate = LeadFactory(), LeadFactory()
    EventFactory(lead=survivor, type=EventType.PAGE_VIEW, occurred_at=NOW)
    EventFactory(lead=duplicate, type=EventType.PAGE_VIEW, occurred_at=NOW - timedelta(days=14))

    merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=UserFactory())

    assert not LeadCounter.objects.filter(lead_id=duplicate.pk).exists()
    faded = LeadCounter.objects.get(lead_id=survivor.pk, counter__half_life_days=14).faded
    assert faded == 1.5  # the newest counts 1, one a half-life older 0.5
    assert_tallies_match()


def test_erasing_a_person_leaves_no_tally_behind():
    counters.prepare(RULES)
    lead = LeadFactory(email="weg@bouw.nl")
    EventFactory(lead=lead, type=EventType.PAGE_VIEW, occurred_at=NOW)
    assert LeadCounter.objects.filter(lead_id=lead.pk).exists()

    erase_subject(lead=lead, actor=UserFactory(), reason="asked", channel="web")

    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not LeadCounter.objects.filter(lead_id=lead.pk).exists()


def test_the_rescore_reads_tallies_and_scores_as_the_engine_does():
    version = CriteriaVersionFactory(mql_threshold=None)
    for position, spec in enumerate(RULES.rules):
        CriterionFactory(
            version=version,
            position=position,
            kind="engagement",
            name=spec.name,
            points=spec.points,
            event_type=spec.event_type,
            url_contains=spec.url_contains,
            per_occurrence=spec.per_occurrence,
            half_life_days=spec.half_life_days,
            window_days=spec.window_days,
        )
    rules = engine.Rules.of(version)
    lead = LeadFactory()
    for days in (0.5, 3, 14, 40):
        EventFactory(
            lead=lead,
            type=EventType.PAGE_VIEW,
            url="https://bouw.nl/Pricing/a%_b",
            occurred_at=NOW - timedelta(days=days),
        )
    # One ahead of now: it counts in full, as the engine counts it (the rule reads the lead's
    # events then, its URL text in any case).
    EventFactory(lead=lead, type=EventType.CAPTURE, occurred_at=NOW + timedelta(minutes=5))
    EventFactory(lead=lead, type=EventType.CAPTURE, occurred_at=NOW - timedelta(days=1))
    EventFactory(
        lead=lead,
        type=EventType.NOTE,
        url="https://bouw.nl/A%_B",
        occurred_at=NOW + timedelta(seconds=1),
    )

    scores = compiled.score_leads(rules, NOW, lead_ids=[lead.pk])

    facts = [
        engine.EventFact(type=t, url=u, occurred_at=o)
        for t, u, o in Event.objects.filter(lead=lead).values_list("type", "url", "occurred_at")
    ]
    expected = engine.score_lead(lead, facts, rules, NOW)
    assert scores[lead.pk].points == expected.points
    assert expected.points[3] == 15  # the capture ahead of now 10, the day-old one 5
    assert expected.points[4] == 24  # 10 x (1 ahead + 0.89 + 0.5 + 0.04 + 0.0001)
    assert LeadCounter.objects.filter(lead_id=lead.pk).count() == 5


def test_kinds_no_active_or_draft_version_reads_are_no_longer_tallied():
    old = engine.Rules(version=1, rules=(RULES.rules[1],))
    new = engine.Rules(version=2, rules=(RULES.rules[2],))
    counters.prepare(old)
    counters.prepare(new)
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.PAGE_VIEW, url="https://a.nl/pricing", occurred_at=NOW)
    assert LeadCounter.objects.filter(lead_id=lead.pk).count() == 2

    assert counters.prune([new]) == 1

    (kind,) = EventCounter.objects.all()
    assert (kind.event_type, kind.half_life_days) == (EventType.PAGE_VIEW, 14)
    assert list(LeadCounter.objects.values_list("counter_id", flat=True)) == [kind.pk]


def test_the_longest_half_life_an_admin_can_enter_still_tallies():
    longest = engine.Rules(
        version=1,
        rules=(
            rule(1, event_type=EventType.EMAIL_OPEN, per_occurrence=True, half_life_days=32_767),
        ),
    )
    counters.prepare(longest)
    lead = LeadFactory()

    EventFactory(lead=lead, type=EventType.EMAIL_OPEN, occurred_at=NOW - timedelta(days=1))
    EventFactory(lead=lead, type=EventType.EMAIL_OPEN, occurred_at=NOW)

    assert_tallies_match()
    assert 1.99 < LeadCounter.objects.get(lead_id=lead.pk).faded < 2


def test_a_backfill_goes_a_batch_of_leads_at_a_time_and_meets_recounts_on_the_way(monkeypatch):
    monkeypatch.setattr(counters, "BACKFILL_BATCH", 2)
    leads = [LeadFactory() for _ in range(6)]
    for lead in leads:
        for days in (1, 20):
            EventFactory(
                lead=lead, type=EventType.PAGE_VIEW, occurred_at=NOW - timedelta(days=days)
            )
    kind = (EventType.PAGE_VIEW, "", 14)
    counters._register({kind})
    (counter,) = EventCounter.objects.all()
    first = leads[0].pk
    with connection.cursor() as cursor:  # the first batch only, as a worker that then died
        cursor.execute(
            "SELECT scoring_backfill_counters(%s::bigint[], 0, %s, false)",
            [[counter.pk], first + 1],
        )
    counter.refresh_from_db()
    assert (counter.backfill_from_lead, counter.is_ready) == (first + 1, False)
    # A merge moves events from a lead not yet done to one done, and back; one is erased.
    Event.objects.filter(lead=leads[4]).update(lead_id=leads[0].pk)
    Event.objects.filter(lead=leads[1]).update(lead_id=leads[5].pk)
    Event.objects.filter(lead=leads[2]).delete()

    counters.backfill([counter.pk])

    counter.refresh_from_db()
    assert counter.is_ready
    assert_tallies_match()
    assert LeadCounter.objects.get(lead_id=leads[0].pk).count == 4
