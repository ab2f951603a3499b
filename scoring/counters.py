"""Per-lead tallies of events, kept by the database as events arrive, so a full re-score reads
one row per lead and kind of event instead of every raw event (10M of them in the benchmark).

An engagement criterion without a window only needs, of the events it counts: how many, the
newest, and for points per occurrence that fade, the sum of their faded weights. Fading is
multiplicative (0.5^(age / half-life)), so a sum stored relative to the newest event,
sum(0.5^((newest - occurred_at) / half-life)), gives the faded points at any later moment with
one multiplication: points * sum * 0.5^((now - newest) / half-life).

- `EventCounter` rows name the kinds tallied (event type, URL text, half-life); criteria of
  every version share them. `prepare` adds the kinds a version needs.
- `LeadCounter` rows hold the tallies. Triggers on leads_event (migration 0008) add new
  events to them in the inserting transaction, and count a lead's tallies again from its
  remaining events when events are deleted or move to another lead (a merge).
- A new kind is first registered, with the highest event id at that moment, under a short
  SHARE lock on leads_event (it waits for transactions writing events and holds new ones back
  for as long as the insert takes); from then on the triggers tally it. The events up to that
  id are then counted by a backfill that does not hold event writers back. Tallies merge
  (counts add, sums are re-based to the newer newest), so the two meet exactly.

Criteria with a window (e.g. "3 times in 14 days") are not tallied: the re-score reads their
few recent events through the (type, occurred_at) index.

PostgreSQL only, like scoring/compiled.py; on SQLite the engine scores lead by lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from scoring import engine
from scoring.models import EventCounter, LeadCounter


def kind_of(rule: engine.Rule) -> tuple[str, str, int] | None:
    """The kind of event tally a rule reads (type, URL text, half-life of its faded sum), or
    None for a rule the re-score reads from recent raw events (a window) or not from events."""
    if rule.kind != "engagement" or rule.window_days:
        return None
    fading = rule.half_life_days if rule.per_occurrence and rule.half_life_days else 0
    return (rule.event_type, rule.url_contains.strip().lower(), fading)


def prepare(rules: engine.Rules) -> dict[int, int]:
    """The tallies the rules read, registered and backfilled first where new: by the rule's
    position, the EventCounter id. Cheap when they exist, which is always but the first time
    a version with a new kind is previewed or published."""
    kinds = {index: kind for index, rule in enumerate(rules.rules) if (kind := kind_of(rule))}
    if not kinds:
        return {}
    counters = _counters(kinds.values())
    missing = set(kinds.values()) - set(counters)
    if missing:
        _register(missing)
        counters = _counters(kinds.values())
    backfill([counter.pk for counter in counters.values() if not counter.is_ready])
    return {index: counters[kind].pk for index, kind in kinds.items()}


def prune(keep: Iterable[engine.Rules]) -> int:
    """Stop tallying the kinds of event none of these rule sets reads (the active version and
    the draft), and delete their tallies, with those of kinds pruned before: an event
    written meanwhile may have added one. Every kind costs each new event a little. Returns
    how many kinds went."""
    if _pruning_paused:
        return 0
    needed = {kind for rules in keep for rule in rules.rules if (kind := kind_of(rule))}
    unused = [
        counter.pk
        for counter in EventCounter.objects.all()
        if (counter.event_type, counter.url_contains, counter.half_life_days) not in needed
    ]
    with transaction.atomic():
        EventCounter.objects.filter(pk__in=unused).delete()
        LeadCounter.objects.exclude(counter__in=EventCounter.objects.all()).delete()
    return len(unused)


_pruning_paused = False


@contextmanager
def pruning_paused() -> Iterator[None]:
    """Keep every kind tallied meanwhile, e.g. while the benchmark publishes versions of its
    own: pruning the real active version's kinds would have them backfilled again."""
    global _pruning_paused
    _pruning_paused = True
    try:
        yield
    finally:
        _pruning_paused = False


def _counters(kinds: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], EventCounter]:
    wanted = set(kinds)
    types = {kind[0] for kind in wanted}
    return {
        (c.event_type, c.url_contains, c.half_life_days): c
        for c in EventCounter.objects.filter(event_type__in=types)
        if (c.event_type, c.url_contains, c.half_life_days) in wanted
    }


def _register(kinds: set[tuple[str, str, int]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Every transaction writing events finishes first; new ones wait for this insert.
        # Events up to the highest id now are the backfill's, the ones after the triggers'.
        cursor.execute("LOCK TABLE leads_event IN SHARE MODE")
        cursor.execute("SELECT coalesce(max(id), 0) FROM leads_event")
        (up_to,) = cursor.fetchone()
        for event_type, url_contains, half_life_days in sorted(kinds):
            cursor.execute(
                "INSERT INTO scoring_eventcounter "
                "(event_type, url_contains, half_life_days, backfill_up_to, created_at) "
                "VALUES (%s, %s, %s, %s, now()) ON CONFLICT DO NOTHING",
                [event_type, url_contains, half_life_days, up_to],
            )


def backfill(counter_ids: list[int]) -> None:
    """Tally the events that were there before these counters were registered, in one pass
    (safe to repeat: it skips those done). It shares a lock with the recount triggers, not
    with event writers."""
    if not counter_ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT scoring_backfill_counters(%s::bigint[])", [counter_ids])
