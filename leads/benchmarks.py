"""Benchmarks of the leads app (see leads/benchmarking.py)."""

import time

from django.db import connection, transaction
from django.utils import timezone

from leads import demo_data
from leads.benchmarking import BenchContext, Measurement, benchmark

# Far above any seeded index, and rolled back, so the measured rows never stay.
SCRATCH_FIRST_INDEX = 900_000_000


@benchmark("generate")
def generate(context: BenchContext) -> list[Measurement]:
    """The demo data generator against a raw COPY of the very same rows."""
    count = 20_000
    now = timezone.now()
    owners = demo_data.DemoOwners([])
    with transaction.atomic():
        started = time.perf_counter()
        result = demo_data.load_demo_leads(
            count, owners=owners, first_index=SCRATCH_FIRST_INDEX, now=now
        )
        generated = time.perf_counter() - started
        transaction.set_rollback(True)

    leads = {
        index: demo_data.demo_lead(index, now=now, owners=owners)
        for index in range(SCRATCH_FIRST_INDEX, SCRATCH_FIRST_INDEX + count)
    }
    events = {
        index: demo_data.demo_events(index, row, now=now, per_lead=3.0)
        for index, row in leads.items()
    }
    for row in leads.values():
        row["last_activity_at"] = None
    with transaction.atomic():
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            demo_data._copy_batch(leads, events, now)
        else:
            demo_data._bulk_create_batch(leads, events, now)
        copied = time.perf_counter() - started
        transaction.set_rollback(True)

    per_second = result.leads / generated
    return [
        Measurement(
            name="generate",
            value=generated,
            unit="s",
            baseline=copied,
            baseline_label="raw COPY of the same rows",
            target="1M leads in minutes",
            notes=f"{count:,} leads + {result.events:,} events; {per_second:,.0f} leads/s, "
            f"1M leads in ~{1_000_000 / per_second / 60:.1f} min",
        )
    ]
