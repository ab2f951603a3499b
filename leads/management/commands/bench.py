import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.module_loading import autodiscover_modules

from leads.benchmarking import REGISTRY, BenchContext, write_report
from leads.models import Lead


class Command(BaseCommand):
    help = "Run the benchmarks on the database in DATABASE_URL and write BENCHMARKS.md."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=100_000, help="leads to benchmark on")
        parser.add_argument("--events-per-lead", type=float, default=16.0)
        parser.add_argument("--only", action="append", help="run only this benchmark (repeat)")
        parser.add_argument(
            "--report", default=str(Path(settings.BASE_DIR) / "BENCHMARKS.md"), help="report file"
        )

    def handle(self, *args, leads: int, events_per_lead: float, only, report: str, **options):
        autodiscover_modules("benchmarks")
        names = only or sorted(REGISTRY)
        unknown = set(names) - set(REGISTRY)
        if unknown:
            raise CommandError(
                f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(REGISTRY))}"
            )
        if connection.vendor != "postgresql":
            self.stderr.write("Benchmarks are meant for PostgreSQL; figures on SQLite mislead.")

        have = Lead.objects.count()
        if have < leads:
            self.stderr.write(f"Generating data: {have:,} leads, want {leads:,} ...")
            started = time.monotonic()
            call_command(
                "seed_demo", leads=leads, events_per_lead=events_per_lead, stdout=self.stderr
            )
            self.stderr.write(f"  done in {time.monotonic() - started:.0f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        measurements = []
        for name in names:
            for measurement in REGISTRY[name](BenchContext(leads=leads)):
                measurements.append(measurement)
                self.stdout.write(measurement.as_json())
        database = f"{connection.vendor} {connection.settings_dict['NAME']}"
        write_report(Path(report), measurements, leads=leads, database=database)
        self.stderr.write(f"Wrote {report}")
