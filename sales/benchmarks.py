"""Benchmarks of the sales workspace (see leads/benchmarking.py)."""

import uuid
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from activities.models import Activity, ActivityKind, Outcome, Task
from leads.benchmarking import (
    BenchContext,
    Measurement,
    benchmark,
    minimal_view_p95_ms,
    p95,
    request_times_ms,
)
from leads.models import Lead, OwnerChange, Stage
from sales.services import queue_leads
from sales.views import QUEUE_PAGE_SIZE
from scoring.models import StageTransition

# A busy rep's book: leads being worked, each handed over, a third with an open task and
# half of them contacted.
REP_LEADS = 200


def _rep_with_leads(run_id: str) -> User:
    rep, _created = User.objects.get_or_create(
        username="bench-queue-rep", defaults={"email": "bench-queue-rep@leadladder.invalid"}
    )
    rep.groups.set(Group.objects.filter(name=Role.SALES_REP))
    now = timezone.now()
    stages = [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY]
    with transaction.atomic():
        leads = Lead.objects.bulk_create(
            Lead(
                email=f"bench-{run_id}-{i}@queue-bench.invalid",
                first_name="Bench",
                last_name=f"Lead {i}",
                stage=stages[i % 3],
                score=50 + i % 40,
                owner=rep,
            )
            for i in range(REP_LEADS)
        )
        StageTransition.objects.bulk_create(
            StageTransition(lead=lead, from_stage=Stage.LEAD, to_stage=Stage.MQL, score=50)
            for lead in leads
        )
        OwnerChange.objects.bulk_create(
            OwnerChange(lead=lead, to_owner=rep, reason="benchmark") for lead in leads
        )
        Task.objects.bulk_create(
            Task(lead=lead, title="Call back", due_at=now + timedelta(days=i % 5), assignee=rep)
            for i, lead in enumerate(leads)
            if i % 3 == 0
        )
        Activity.objects.bulk_create(
            Activity(lead=lead, kind=ActivityKind.CALL, outcome=Outcome.REACHED, actor=rep)
            for i, lead in enumerate(leads)
            if i % 2 == 0
        )
    return rep


@benchmark("queue")
def queue(context: BenchContext) -> list[Measurement]:
    """The sales queue (first and a deep page) and a rep's own leads with SLA clocks."""
    run_id = uuid.uuid4().hex[:8]
    client = Client()
    baseline = minimal_view_p95_ms(client)
    rep = _rep_with_leads(run_id)
    try:
        client.force_login(rep)
        waiting = queue_leads().order_by("-score", "-pk")
        # A deep row, found once by OFFSET; the page itself is read by keyset.
        deep = waiting.values_list("score", "pk")[min(20_000, max(waiting.count() - 30, 0))]
        pages = {
            "queue first": "/leads/queue/",
            "queue deep": f"/leads/queue/?after={deep[0]}_{deep[1]}",
            "queue NL": "/leads/queue/?country=NL",
            "my leads": "/leads/mine/",
        }
        results = {
            name: p95(request_times_ms(client, path, requests=200, warmup=20))
            for name, path in pages.items()
        }
    finally:
        with transaction.atomic():
            Lead.objects.filter(email__startswith=f"bench-{run_id}-").delete()
    notes = ", ".join(f"{name} {value:.1f} ms" for name, value in results.items())
    return [
        Measurement(
            name="queue",
            value=max(results.values()),
            unit="ms p95",
            baseline=baseline,
            baseline_label="minimal Django view",
            target="<= 50 ms p95",
            notes=f"{QUEUE_PAGE_SIZE} rows a queue page; my leads for a rep owning "
            f"{REP_LEADS} leads in MQL/SQL/opportunity (25 a page); {notes}",
        )
    ]
