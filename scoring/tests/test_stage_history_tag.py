"""`{% stage_history lead %}`: a lead's changes of stage, newest first."""

import re

import pytest
from django.template import Context, Template

from leads.models import Stage
from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import StageTransition
from scoring.templatetags import scoring_tags

pytestmark = pytest.mark.django_db


def _render(lead) -> str:
    return Template("{% load scoring_tags %}{% stage_history lead %}").render(
        Context({"lead": lead})
    )


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]
    ]


def test_each_change_shows_from_to_who_why_and_the_score_then_newest_first(marketer):
    lead = LeadFactory(stage=Stage.LEAD, score=35)
    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=None)
    lead.__class__.objects.filter(pk=lead.pk).update(score=12)
    services.transition(lead_id=lead.pk, to_stage=Stage.NURTURE, actor=marketer, reason="No budget")

    html = _render(lead)

    first, second = _rows(html)
    assert "Marketing qualified" in first and "Nurture" in first
    assert marketer.get_full_name() in first and "No budget" in first and first.endswith("12")
    assert "Lead" in second and "Marketing qualified" in second
    assert "the scoring rules" in second and second.endswith("35")
    assert "<time datetime=" in html


def test_a_lead_that_never_changed_stage_says_so():
    html = _render(LeadFactory())

    assert "The stage never changed." in html
    assert "<table" not in html


def test_only_this_leads_history_is_shown(marketer):
    lead, other = LeadFactory(stage=Stage.LEAD), LeadFactory(stage=Stage.LEAD)
    services.transition(
        lead_id=other.pk, to_stage=Stage.DISQUALIFIED, actor=marketer, reason="Gone"
    )

    assert "Gone" not in _render(lead)


def test_a_long_history_is_cut_to_the_latest_changes(marketer, monkeypatch):
    monkeypatch.setattr(scoring_tags, "STAGE_HISTORY_LIMIT", 2)
    lead = LeadFactory(stage=Stage.LEAD)
    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)
    services.transition(lead_id=lead.pk, to_stage=Stage.NURTURE, actor=marketer, reason="Later")
    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)

    html = _render(lead)

    assert len(_rows(html)) == 2
    assert "Only the latest 2 changes are shown." in html
    assert StageTransition.objects.count() == 3


def test_what_people_typed_is_escaped(marketer):
    lead = LeadFactory(stage=Stage.LEAD)
    services.transition(
        lead_id=lead.pk,
        to_stage=Stage.DISQUALIFIED,
        actor=marketer,
        reason="<script>x()</script>",
    )

    html = _render(lead)

    assert "<script>" not in html and "&lt;script&gt;" in html
