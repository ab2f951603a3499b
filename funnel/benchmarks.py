"""Benchmarks of pages served by the funnel app and the health endpoint."""

from django.test import Client

from accounts.models import User
from accounts.roles import Role
from leads.benchmarking import (
    BenchContext,
    Measurement,
    benchmark,
    minimal_view_p95_ms,
    p95,
    request_times_ms,
)


@benchmark("healthz")
def healthz(context: BenchContext) -> list[Measurement]:
    client = Client()
    baseline = minimal_view_p95_ms(client)
    value = p95(request_times_ms(client, "/healthz"))
    return [
        Measurement(
            name="healthz",
            value=value,
            unit="ms p95",
            baseline=baseline,
            baseline_label="minimal Django view",
            notes="database round trip plus Redis ping",
        )
    ]


@benchmark("home")
def home(context: BenchContext) -> list[Measurement]:
    marketer = User.objects.filter(groups__name=Role.MARKETER, is_active=True).first()
    client = Client()
    baseline = minimal_view_p95_ms(client)
    client.force_login(marketer)
    value = p95(request_times_ms(client, "/", requests=50, warmup=5))
    return [
        Measurement(
            name="home",
            value=value,
            unit="ms p95",
            baseline=baseline,
            baseline_label="minimal Django view",
            notes="marketer's home: leads per stage and newest leads",
        )
    ]
