import json
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.roles import Role
from leads.demo_data import DemoOwners, demo_lead, load_demo_leads
from leads.models import Event, Lead, Stage

pytestmark = pytest.mark.django_db


def test_the_same_index_always_gives_the_same_person(django_user_model):
    from django.utils import timezone

    now = timezone.now()
    owners = DemoOwners([])
    assert demo_lead(42, now=now, owners=owners) == demo_lead(42, now=now, owners=owners)
    assert (
        demo_lead(42, now=now, owners=owners)["email"]
        != demo_lead(43, now=now, owners=owners)["email"]
    )


def test_seed_demo_creates_one_user_per_role_and_leads_with_events():
    out = StringIO()
    call_command("seed_demo", leads=300, stdout=out)

    assert Lead.objects.count() == 300
    assert Event.objects.count() > 300
    for role in Role:
        assert User.objects.filter(groups__name=role).exists(), role
    assert "marketer" in out.getvalue() and "leadladder-demo" in out.getvalue()
    # Realistic spread: B2B and B2C, several stages, events pointing at real leads.
    assert Lead.objects.exclude(company="").exists()
    assert (
        Lead.objects.filter(email__endswith="@gmail.com").exists()
        or Lead.objects.filter(company="").exists()
    )
    assert Lead.objects.values("stage").distinct().count() >= 5
    assert not Event.objects.filter(lead__isnull=True).exists()
    assert not Lead.objects.filter(stage=Stage.SQL, owner__isnull=True).exists()


def test_running_seed_demo_twice_adds_nothing_the_second_time():
    call_command("seed_demo", leads=200, stdout=StringIO())
    leads, events, users = Lead.objects.count(), Event.objects.count(), User.objects.count()

    out = StringIO()
    call_command("seed_demo", leads=200, stdout=out)

    assert (Lead.objects.count(), Event.objects.count(), User.objects.count()) == (
        leads,
        events,
        users,
    )
    assert "nothing added" in out.getvalue()


def test_asking_for_more_leads_adds_only_the_missing_ones():
    owners = DemoOwners([])
    first = load_demo_leads(100, owners=owners)
    second = load_demo_leads(150, owners=owners)

    assert (first.leads, second.leads) == (100, 50)
    assert Lead.objects.count() == 150


def test_bench_prints_json_lines_and_writes_the_report(tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    out = StringIO()

    call_command(
        "bench",
        leads=50,
        only=["generate", "healthz"],
        report=str(report),
        stdout=out,
        stderr=StringIO(),
    )

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["name"] for line in lines] == ["generate", "healthz"]
    for line in lines:
        assert line["value"] > 0 and line["baseline"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=0.05)
    assert "`generate`" in report.read_text() and "`healthz`" in report.read_text()


def test_demo_leads_come_with_the_consents_they_gave_most_of_them_to_profiling():
    from consent.models import ConsentRecord
    from leads.demo_data import demo_consents

    load_demo_leads(200, owners=DemoOwners([]))

    records = ConsentRecord.objects.all()
    profiled = records.filter(purpose__key="profiling", granted=True)
    assert 0.7 * 200 < profiled.count() < 200
    assert records.filter(purpose__key="marketing_email", granted=False).exists()
    # Dated as the person gave them, never before they came in.
    lead = Lead.objects.order_by("pk").first()
    for record in records.filter(subject_id=lead.pk):
        assert record.recorded_at >= lead.created_at
    assert demo_consents(7, {"created_at": lead.created_at}) == demo_consents(
        7, {"created_at": lead.created_at}
    )
