"""The triggers that keep scoring_leadcounter in step with leads_event (scoring/counters.py).

PostgreSQL only: the set-based re-score that reads the tallies is PostgreSQL's too. The
statements are written out here, not imported, so this migration stays what it was.
"""

from django.db import migrations

MERGE = """
WITH matched AS (
    SELECT e.lead_id, c.id AS counter_id, c.half_life_days, e.occurred_at,
           max(e.occurred_at) OVER (PARTITION BY e.lead_id, c.id) AS newest
    FROM {events} e
    JOIN scoring_eventcounter c
      ON (c.event_type = e.type OR (c.event_type = '' AND e.type <> 'capture'))
     AND (c.url_contains = '' OR strpos(lower(e.url), c.url_contains) > 0)
    WHERE {counters}
)
INSERT INTO scoring_leadcounter AS lc (lead_id, counter_id, count, newest, faded)
SELECT m.lead_id, m.counter_id, count(*), max(m.newest),
       coalesce(sum(power(0.5::float8, extract(epoch FROM m.newest - m.occurred_at)::float8
                          / (m.half_life_days::float8 * 86400)))
                FILTER (WHERE m.half_life_days > 0), 0)
FROM matched m
GROUP BY m.lead_id, m.counter_id
-- Every writer locks tally rows in this one order: two of them wait, never deadlock.
ORDER BY m.lead_id, m.counter_id
ON CONFLICT (lead_id, counter_id) DO UPDATE SET
    count = lc.count + EXCLUDED.count,
    newest = greatest(lc.newest, EXCLUDED.newest),
    faded = scoring_merge_faded(lc.faded, lc.newest, EXCLUDED.faded, EXCLUDED.newest,
        (SELECT c.half_life_days FROM scoring_eventcounter c WHERE c.id = lc.counter_id))
"""

RECOUNT_EVENTS = (
    "(SELECT e.id, e.lead_id, e.type, e.url, e.occurred_at FROM leads_event e "
    "WHERE e.lead_id = ANY(lead_ids))"
)

# Leads share 64 advisory locks (lead id modulo 64, in the two-key space of this class): a
# transaction adding events for many leads holds at most 64 of them.
BUCKETS_CLASS = 0x5C0E
BUCKETS = 64

BACKFILL_EVENTS = (
    "(SELECT e.id, e.lead_id, e.type, e.url, e.occurred_at FROM leads_event e "
    "WHERE e.lead_id > lead_from AND e.lead_id <= lead_to AND e.id <= up_to "
    "AND (any_type OR e.type = ANY(types)))"
)

CREATE = f"""
-- Two faded sums, each relative to its own newest event, as one relative to the newer.
-- power(0.5, x >= 0) and not power(2, -x): PostgreSQL's power() reports an underflow
-- of the second as an error, and returns 0 for the first, as Python does.
CREATE FUNCTION scoring_merge_faded(
    faded_a float8, newest_a timestamptz, faded_b float8, newest_b timestamptz,
    half_life_days integer
) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN half_life_days > 0 THEN
        faded_a * power(0.5::float8, extract(epoch FROM greatest(newest_a, newest_b) - newest_a)
                                     ::float8 / (half_life_days::float8 * 86400))
      + faded_b * power(0.5::float8, extract(epoch FROM greatest(newest_a, newest_b) - newest_b)
                                     ::float8 / (half_life_days::float8 * 86400))
    ELSE 0 END
$$;

-- Count these leads' tallies again from the events they have now. A kind still being
-- backfilled gets the events after its backfill's share only, but for the leads the
-- backfill has done.
-- The recount deletes and re-adds in two statements: a tally written in between by another
-- transaction would be counted twice. So it holds its leads' buckets exclusively (taken in
-- order), waiting for the transactions adding events to them and holding new ones back.
CREATE FUNCTION scoring_recount_leads(lead_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({0x5C0E_C0DE});
    PERFORM pg_advisory_xact_lock({BUCKETS_CLASS}, b.bucket)
    FROM (SELECT DISTINCT mod(id, {BUCKETS})::integer AS bucket FROM unnest(lead_ids) AS id
          ORDER BY 1) b;
    DELETE FROM scoring_leadcounter WHERE (lead_id, counter_id) IN (
        SELECT lead_id, counter_id FROM scoring_leadcounter WHERE lead_id = ANY(lead_ids)
        ORDER BY lead_id, counter_id FOR UPDATE);
    {MERGE.format(events=RECOUNT_EVENTS,
                  counters="c.backfill_up_to IS NULL OR e.id > c.backfill_up_to "
                  "OR e.lead_id <= c.backfill_from_lead")};
END
$$;

-- Tally the events of the leads after lead_from up to lead_to that were there before these
-- counters were registered (those still at lead_from), and move them on to lead_to; with
-- `last`, they are done. A batch of leads at a time, each its own short transaction: event
-- writers wait for a batch's tally rows at most.
CREATE FUNCTION scoring_backfill_counters(
    counters bigint[], lead_from bigint, lead_to bigint, last boolean
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kinds bigint[];
    up_to bigint;
    types text[];
    any_type boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({0x5C0E_C0DE});
    SELECT array_agg(c.id), max(c.backfill_up_to), array_agg(c.event_type),
           bool_or(c.event_type = '')
    INTO kinds, up_to, types, any_type
    FROM (SELECT * FROM scoring_eventcounter
          WHERE id = ANY(counters) AND backfill_up_to IS NOT NULL
            AND backfill_from_lead = lead_from
          ORDER BY id FOR UPDATE) c;
    IF kinds IS NULL THEN
        RETURN;
    END IF;
    {MERGE.format(events=BACKFILL_EVENTS,
                  counters="c.id = ANY(kinds) AND e.id <= c.backfill_up_to")};
    UPDATE scoring_eventcounter
    SET backfill_from_lead = lead_to,
        backfill_up_to = CASE WHEN last THEN NULL ELSE backfill_up_to END
    WHERE id = ANY(kinds);
END
$$;

-- Adding to tallies commutes with other additions: the buckets are only shared.
CREATE FUNCTION scoring_count_new_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({BUCKETS_CLASS}, b.bucket)
    FROM (SELECT DISTINCT mod(lead_id, {BUCKETS})::integer AS bucket FROM new_events
          ORDER BY 1) b;
    {MERGE.format(events="new_events", counters="TRUE")};
    RETURN NULL;
END
$$;

CREATE FUNCTION scoring_recount_deleted_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scoring_recount_leads(ARRAY(SELECT DISTINCT lead_id FROM old_events));
    RETURN NULL;
END
$$;

CREATE FUNCTION scoring_recount_moved_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scoring_recount_leads(ARRAY(
        SELECT lead_id FROM old_events UNION SELECT lead_id FROM new_events));
    RETURN NULL;
END
$$;

CREATE TRIGGER scoring_count_new_events AFTER INSERT ON leads_event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_count_new_events();
CREATE TRIGGER scoring_recount_deleted_events AFTER DELETE ON leads_event
    REFERENCING OLD TABLE AS old_events
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_recount_deleted_events();
CREATE TRIGGER scoring_recount_moved_events AFTER UPDATE ON leads_event
    REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_recount_moved_events();
"""

DROP = """
DROP TRIGGER IF EXISTS scoring_count_new_events ON leads_event;
DROP TRIGGER IF EXISTS scoring_recount_deleted_events ON leads_event;
DROP TRIGGER IF EXISTS scoring_recount_moved_events ON leads_event;
DROP FUNCTION IF EXISTS scoring_count_new_events();
DROP FUNCTION IF EXISTS scoring_recount_deleted_events();
DROP FUNCTION IF EXISTS scoring_recount_moved_events();
DROP FUNCTION IF EXISTS scoring_backfill_counters(bigint[], bigint, bigint, boolean);
DROP FUNCTION IF EXISTS scoring_recount_leads(bigint[]);
DROP FUNCTION IF EXISTS scoring_merge_faded(float8, timestamptz, float8, timestamptz, integer);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0007_event_counters"),
        ("leads", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
