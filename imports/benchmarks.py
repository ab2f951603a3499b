"""Benchmarks of CSV imports (see leads/benchmarking.py)."""

import random
import tempfile
import time
import uuid
from pathlib import Path

from django.core.files import File
from django.db import connection, transaction
from django.test import override_settings

from imports import services
from imports.parsing import inspect_csv
from leads.benchmarking import BenchContext, Measurement, benchmark

ROWS = 100_000
HEADERS = ["E-mailadres", "Voornaam", "Achternaam", "Bedrijf", "Telefoon", "Functie", "Land",
           "Bedrijfsgrootte", "Toestemming marketing_email"]  # fmt: skip
FIRST_NAMES = ["Sanne", "Jeroen", "Lotte", "Bram", "Fleur", "Daan", "Anouk", "Joost", "Eva"]
LAST_NAMES = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder"]
JOB_TITLES = ["Inkoper", "Directeur", "Marketingmanager", "Office manager", "Eigenaar", ""]
COUNTRIES = ["Nederland", "Nederland", "Nederland", "België", "NL", ""]
CONSENTS = ["ja", "nee", "", ""]


def write_dutch_csv(path: Path, rows: int, *, seed: int = 7) -> None:
    """What Dutch Excel saves as "CSV UTF-8": BOM, semicolons, Dutch headers. About 1% of the
    rows have a broken address and 2% repeat an earlier one, as real lists do."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]  # fresh addresses: every run creates leads, none updates
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(HEADERS) + "\r\n")
        for index in range(rows):
            number = rng.randrange(index) if index and rng.random() < 0.02 else index
            email = f"bench.{tag}.{number}@bedrijf{number % 997}.nl"
            if rng.random() < 0.01:
                email = email.replace("@", " at ")
            country = rng.choice(COUNTRIES)
            cells = [
                email,
                rng.choice(FIRST_NAMES),
                rng.choice(LAST_NAMES),
                f"Bedrijf {number % 997} B.V.",
                # A Belgian lead's Dutch mobile number needs its country code.
                f"{'+31 6' if country == 'België' else '06'} {rng.randrange(10**7, 6 * 10**7)}",
                rng.choice(JOB_TITLES),
                country,
                str(rng.choice([5, 12, 40, 250, 1200])),
                rng.choice(CONSENTS),
            ]
            out.write(";".join(cells) + "\r\n")


def _copy_baseline(path: Path) -> float:
    """A raw COPY of the same file into a temporary table: the floor for loading it."""
    columns = ", ".join(f"c{index} text" for index in range(len(HEADERS)))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE bench_csv_import ({columns}) ON COMMIT DROP")
        started = time.perf_counter()
        with (
            cursor.copy(
                "COPY bench_csv_import FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)"
            ) as copy,
            path.open("rb") as source,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


@benchmark("csv_import")
def csv_import(context: BenchContext) -> list[Measurement]:
    """A 100,000-row Dutch CSV through the real import path (inspect, store, capture in
    batches), rolled back afterwards, against a raw COPY of the same file."""
    with tempfile.TemporaryDirectory() as scratch, override_settings(MEDIA_ROOT=scratch):
        path = Path(scratch) / "beurs.csv"
        write_dutch_csv(path, ROWS)
        with transaction.atomic():
            started = time.perf_counter()
            with path.open("rb") as binary:
                inspection = inspect_csv(binary)
                job = services.create_import_job(
                    upload=File(binary, name=path.name), inspection=inspection
                )
            mapping = services.proposed_mapping(headers=job.headers)
            job = services.import_now(job=job, mapping=mapping)
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        copied = _copy_baseline(path) if connection.vendor == "postgresql" else 0.0
    return [
        Measurement(
            name="csv_import",
            value=elapsed,
            unit="s",
            baseline=copied,
            baseline_label="raw COPY of the same file into a temporary table",
            target="<= 30 s",
            notes=f"{ROWS:,} rows, {job.created_count:,} leads created, "
            f"{job.updated_count:,} updates, {job.rejected_count:,} rejected; "
            f"{ROWS / elapsed:,.0f} rows/s",
        )
    ]
