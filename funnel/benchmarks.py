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


@benchmark("dashboard")
def dashboard(context: BenchContext) -> list[Measurement]:
    """The funnel dashboard, 12 months, one filter, against the minimal view."""
    import time

    from django.db import connection

    from funnel.metrics import refresh_read_model
    from leads.demo_data import DemoOwners, ensure_demo_histories

    # Once per bench database: leads loaded before stage histories existed get theirs, and
    # the read model takes them in (later runs find nothing to do).
    started = time.perf_counter()
    reps = list(
        User.objects.filter(groups__name=Role.SALES_REP, is_active=True).values_list(
            "pk", flat=True
        )
    )
    ensure_demo_histories(owners=DemoOwners(reps))
    refresh_read_model()
    prepared = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in ("scoring_stagetransition", "funnel_leadmilestone", "funnel_funnelfact"):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT count(*) FROM scoring_stagetransition")
        transitions = cursor.fetchone()[0]
    marketer = User.objects.filter(groups__name=Role.MARKETER, is_active=True).first()
    client = Client()
    baseline = minimal_view_p95_ms(client)
    client.force_login(marketer)
    value = p95(
        request_times_ms(
            client, "/funnel/?period=last_12_months&source=web_form", requests=50, warmup=5
        )
    )
    return [
        Measurement(
            name="dashboard",
            value=value,
            unit="ms p95",
            baseline=baseline,
            baseline_label="minimal Django view",
            target="<= 200 ms p95",
            notes=f"12 months, source=web_form; {transitions:,} transitions; "
            f"histories and read model prepared in {prepared:.0f} s",
        )
    ]
