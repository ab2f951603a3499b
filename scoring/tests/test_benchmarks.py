"""The rescore benchmark on a handful of leads: it runs the worker's path after publishing,
reports three re-scores against its baseline, and leaves the active version, the stages and
the history as they were (the leads stay scored with its base criteria)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from leads.models import Lead, Stage
from leads.tests.factories import EventFactory, LeadFactory
from scoring.models import CriteriaVersion, LeadScore, StageTransition, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_rescore_benchmark_times_publishing_the_nightly_run_and_every_score_changing(
    tmp_path,
):
    active = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    for n in range(30):
        lead = LeadFactory(stage=Stage.CONTACT, is_decision_maker=bool(n % 2))
        EventFactory(lead=lead, url="https://www.leadladder-demo.nl/prijzen")
    out = StringIO()

    call_command(
        "bench",
        leads=30,
        only=["rescore"],
        report=str(tmp_path / "BENCHMARKS.md"),
        stdout=out,
        stderr=StringIO(),
    )

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["name"] for line in lines] == [
        "rescore", "rescore_nightly", "rescore_every_score_changes",
    ]  # fmt: skip
    # Thirty leads take less than the 10 ms the report rounds to; the ratio needs a baseline.
    assert all(line["unit"] == "s" and line["value"] >= 0 for line in lines)
    report = (tmp_path / "BENCHMARKS.md").read_text()
    assert "rows written: leads_lead" in report
    assert CriteriaVersion.objects.active() == active
    base = CriteriaVersion.objects.get(note__startswith="benchmark base")
    assert base.status == VersionStatus.RETIRED
    # The base scores stay; what the timed runs wrote does not.
    assert set(LeadScore.objects.values_list("version", flat=True)) == {base.number}
    assert LeadScore.objects.count() == Lead.objects.count() == 30
    assert not StageTransition.objects.exclude(criteria_version=base).exists()
    assert CriteriaVersion.objects.count() == 2  # the benchmark's other versions are gone
