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
  id are then counted by a backfill, a batch of leads at a time, each committed on its own:
  event writers wait for a batch at most. Tallies merge (counts add, sums are re-based to
  the newer newest), so the two meet exactly. Every writer locks tally rows in (lead, kind)
  order, and a recount holds its leads' lock buckets alone, so none of them deadlock.

Criteria with a window (e.g. "3 times in 14 days") are not tallied: the re-score reads their
few recent events through the (type, occurred_at) index.

PostgreSQL only, like scoring/compiled.py; on SQLite the engine scores lead by lead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction
from django.db.models import Max, Min

from leads.models import Event
from scoring import engine
from scoring.models import EventCounter, LeadCounter

# Lead ids a backfill transaction covers, tally rows a prune transaction deletes.
BACKFILL_BATCH = 5_000
PRUNE_BATCH = 50_000
REGISTER_ATTEMPTS = 5


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
    the draft), then delete their tallies: every kind costs each new event a little. Returns
    how many kinds went.

    The kinds go first, in a transaction of their own, so event writers stop adding to
    their tallies before these are deleted, a batch at a time. An event written at that very
    moment may leave a tally of a gone kind behind; no score reads it, and the next prune
    deletes it."""
    if _pruning_paused:
        return 0
    needed = {kind for rules in keep for rule in rules.rules if (kind := kind_of(rule))}
    unused = [
        counter.pk
        for counter in EventCounter.objects.all()
        if (counter.event_type, counter.url_contains, counter.half_life_days) not in needed
    ]
    EventCounter.objects.filter(pk__in=unused).delete()
    # Ids are never reused: those missing up to the highest in use were pruned.
    existing = set(EventCounter.objects.values_list("pk", flat=True))
    highest = LeadCounter.objects.aggregate(highest=Max("counter_id"))["highest"] or 0
    gone = [pk for pk in range(1, highest + 1) if pk not in existing]
    while gone:
        with connection.cursor() as cursor:
            # In the order event writers lock tally rows (see migration 0008).
            cursor.execute(
                "DELETE FROM scoring_leadcounter WHERE (lead_id, counter_id) IN ("
                "SELECT lead_id, counter_id FROM scoring_leadcounter "
                "WHERE counter_id = ANY(%s) ORDER BY lead_id, counter_id "
                "LIMIT %s FOR UPDATE)",
                [gone, PRUNE_BATCH],
            )
            if cursor.rowcount < PRUNE_BATCH:
                break
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
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Every transaction writing events finishes first; new ones wait for this
                # insert. Events up to the highest id now are the backfill's, the ones after
                # the triggers'. Not waiting long: event writers queue behind the request.
                cursor.execute("SET LOCAL lock_timeout = '2s'")
                cursor.execute("LOCK TABLE leads_event IN SHARE MODE")
                cursor.execute("SELECT coalesce(max(id), 0) FROM leads_event")
                (up_to,) = cursor.fetchone()
                for event_type, url_contains, half_life_days in sorted(kinds):
                    cursor.execute(
                        "INSERT INTO scoring_eventcounter (event_type, url_contains, "
                        "half_life_days, backfill_up_to, backfill_from_lead, created_at) "
                        "VALUES (%s, %s, %s, %s, 0, now()) ON CONFLICT DO NOTHING",
                        [event_type, url_contains, half_life_days, up_to],
                    )
            return
        except OperationalError:
            # lock_timeout: a long transaction on leads_event; try again a little later.
            if attempt == REGISTER_ATTEMPTS:
                raise
            time.sleep(attempt)


def backfill(counter_ids: list[int]) -> None:
    """Tally the events that were there before these counters were registered, a batch of
    leads at a time, each batch committed on its own (safe to repeat, and to go on with
    after a crash: each kind remembers how far it got). It shares a lock with the recount
    triggers, not with event writers, who wait for a batch's tally rows at most."""
    while True:
        pending = list(
            EventCounter.objects.filter(pk__in=counter_ids, backfill_up_to__isnull=False)
        )
        if not pending:
            return
        lead_from = min(counter.backfill_from_lead for counter in pending)
        kinds = [counter.pk for counter in pending if counter.backfill_from_lead == lead_from]
        ahead = Event.objects.filter(lead_id__gt=lead_from).aggregate(
            first=Min("lead_id"), last=Max("lead_id")
        )
        first, last_lead = ahead["first"] or lead_from, ahead["last"] or 0
        lead_to = first - 1 + BACKFILL_BATCH
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT scoring_backfill_counters(%s::bigint[], %s, %s, %s)",
                [kinds, lead_from, lead_to, lead_to >= last_lead],
            )
