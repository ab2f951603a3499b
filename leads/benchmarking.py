"""The machinery behind `manage.py bench`: a registry, timers and the report.

Each app contributes a `benchmarks.py` module that registers functions with `@benchmark`.
A benchmark returns a Measurement with its own value and the value of a baseline measured in
the same run (a raw SQL statement, a minimal Django view), so figures compare across machines
as ratios.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
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
    """Rewrite BENCHMARKS.md, keeping rows of benchmarks that did not run this time and the
    notes under the table."""
    rows: dict[str, str] = {}
    footer: list[str] = []  # notes written under the table stay
    if path.exists():
        lines = path.read_text().splitlines()
        for line in lines:
            if line.startswith("| `"):
                rows[line.split("`")[1]] = line
        last_row = max((i for i, line in enumerate(lines) if line.startswith("|")), default=None)
        if last_row is not None:
            footer = lines[last_row + 1 :]
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
    table = [*header, *(rows[name] for name in sorted(rows))]
    path.write_text("\n".join([*table, *footer]).rstrip("\n") + "\n")


# --- Serving under gunicorn and loading it from several processes ----------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """gunicorn serving config.bench_urls on a free loopback port, as production would."""

    def __init__(self, workers: int = 5):
        self.workers = workers
        self.port = _free_port()
        self.process = None

    def __enter__(self) -> GunicornServer:

        env = {
            **os.environ,
            "ROOT_URLCONF": "config.bench_urls",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 60),
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "config.wsgi", "--workers", str(self.workers),
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url("/_bench/minimal/"), timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class HttpLoad:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def combined(cls, parts: list[HttpLoad]) -> HttpLoad:
        statuses: dict[int, int] = {}
        for part in parts:
            for status, count in part.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        return cls(
            requests=sum(part.requests for part in parts),
            errors=sum(part.errors for part in parts),
            seconds=sum(part.seconds for part in parts),
            latencies_ms=[latency for part in parts for latency in part.latencies_ms],
            statuses=statuses,
        )


def _load_worker(args) -> tuple[int, int, list[float], dict[int, int]]:
    port, method, path, headers, body_factory, worker_number, seconds = args
    latencies, statuses, errors, n = [], {}, 0, 0
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        body = body_factory(worker_number, n) if body_factory else None
        n += 1
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            status = response.status
        except OSError:
            status = 0
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if not 200 <= status < 300:
            errors += 1
    return n, errors, latencies, statuses


def load(
    server: GunicornServer,
    path: str,
    *,
    method: str = "GET",
    headers: dict | None = None,
    body_factory=None,
    concurrency: int = 8,
    seconds: float = 10.0,
) -> HttpLoad:
    """Hit `path` from `concurrency` processes for `seconds`; a new connection per request."""
    jobs = [
        (server.port, method, path, headers or {}, body_factory, number, seconds)
        for number in range(concurrency)
    ]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(concurrency) as pool:
        parts = pool.map(_load_worker, jobs)
    elapsed = time.monotonic() - started
    statuses: dict[int, int] = {}
    for _n, _errors, _latencies, part_statuses in parts:
        for status, count in part_statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return HttpLoad(
        requests=sum(part[0] for part in parts),
        errors=sum(part[1] for part in parts),
        seconds=elapsed,
        latencies_ms=[latency for part in parts for latency in part[2]],
        statuses=statuses,
    )
