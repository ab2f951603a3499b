"""The machinery behind `manage.py bench`: a registry, timers and the report.

Each app contributes a `benchmarks.py` module that registers functions with `@benchmark`.
A benchmark returns a Measurement with its own value and the value of a baseline measured in
the same run (a raw SQL statement, a minimal Django view), so figures compare across machines
as ratios.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.test import Client, override_settings


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    baseline: float
    baseline_label: str
    target: str = ""
    notes: str = ""
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = round(self.value / self.baseline, 2) if self.baseline else 0.0
        self.value = round(self.value, 2)
        self.baseline = round(self.baseline, 2)

    def as_json(self) -> str:
        keys = ["name", "value", "unit", "baseline", "ratio"]
        data = asdict(self)
        return json.dumps(
            {key: data[key] for key in keys} | {"baseline_label": self.baseline_label}
        )


@dataclass
class BenchContext:
    leads: int


BenchmarkFunction = Callable[[BenchContext], list[Measurement]]
REGISTRY: dict[str, BenchmarkFunction] = {}


def benchmark(name: str) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
    def register(function: BenchmarkFunction) -> BenchmarkFunction:
        REGISTRY[name] = function
        return function

    return register


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


BENCH_SETTINGS = {
    "ROOT_URLCONF": "config.bench_urls",
    "ALLOWED_HOSTS": ["*"],
    "SECURE_SSL_REDIRECT": False,
    "DEBUG": False,
    "STORAGES": {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
}


def request_times_ms(
    client: Client, path: str, *, requests: int = 200, warmup: int = 20, **extra
) -> list[float]:
    """Server-side time of GET `path` through the whole middleware stack, in milliseconds."""
    with override_settings(**BENCH_SETTINGS):
        for _ in range(warmup):
            response = client.get(path, **extra)
            assert response.status_code == 200, (path, response.status_code)
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path, **extra)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def minimal_view_p95_ms(client: Client, requests: int = 200) -> float:
    return p95(request_times_ms(client, "/_bench/minimal/", requests=requests))


def write_report(path: Path, measurements: list[Measurement], *, leads: int, database: str) -> None:
    """Rewrite BENCHMARKS.md, keeping rows of benchmarks that did not run this time."""
    rows: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("| `"):
                rows[line.split("`")[1]] = line
    for m in measurements:
        rows[m.name] = (
            f"| `{m.name}` | {m.value} {m.unit} | {m.baseline} {m.unit} ({m.baseline_label}) "
            f"| **{m.ratio}x** | {m.target} | {leads:,} | {m.notes} |"
        )
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`manage.py bench`). Each figure is compared with a baseline",
        "measured in the same run on the same machine, so the ratio is what to compare.",
        f"Last run on {database}; see each row for the lead count it ran with.",
        "",
        "| benchmark | value | baseline | ratio | target | leads | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    path.write_text("\n".join([*header, *(rows[name] for name in sorted(rows))]) + "\n")
