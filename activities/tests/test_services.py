from datetime import timedelta

import pytest
from django.utils import timezone

from activities.models import Activity, Task
from activities.services import ActivityRefused, add_task, complete_task, log_activity
from leads.models import Event, Lead, Stage
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_logging_a_call_records_it_and_marks_the_lead_active(sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    when = timezone.now() - timedelta(minutes=5)

    activity = log_activity(
        lead_id=lead.pk, kind="call", outcome="reached", actor=sales_rep, occurred_at=when
    )

    assert activity.actor == sales_rep
    assert Lead.objects.get(pk=lead.pk).last_activity_at == when
    # Activities are kept apart from the lead's events.
    assert not Event.objects.filter(lead=lead).exists()


def test_an_activity_logged_after_the_fact_does_not_make_the_lead_look_idle_longer(sales_rep):
    recent = timezone.now() - timedelta(minutes=1)
    lead = LeadFactory(stage=Stage.MQL, last_activity_at=recent)

    log_activity(
        lead_id=lead.pk,
        kind="meeting",
        outcome="held",
        actor=sales_rep,
        occurred_at=recent - timedelta(days=2),
    )

    assert Lead.objects.get(pk=lead.pk).last_activity_at == recent


def test_an_outcome_that_does_not_fit_the_kind_is_refused(sales_rep):
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(ActivityRefused):
        log_activity(lead_id=lead.pk, kind="email", outcome="voicemail", actor=sales_rep)

    assert not Activity.objects.exists()


def test_a_merged_lead_gets_no_activity(sales_rep):
    survivor = LeadFactory()
    merged = LeadFactory(merged_into=survivor)

    with pytest.raises(ActivityRefused):
        log_activity(lead_id=merged.pk, kind="call", outcome="reached", actor=sales_rep)


def test_a_task_is_added_and_completed_once(sales_rep, other_rep):
    lead = LeadFactory(stage=Stage.SQL)
    task = add_task(
        lead_id=lead.pk,
        title=" Bel terug ",
        due_at=timezone.now() + timedelta(days=1),
        assignee=other_rep,
        created_by=sales_rep,
    )
    assert task.title == "Bel terug"
    assert Lead.objects.get(pk=lead.pk).last_activity_at is not None

    first = complete_task(task_id=task.pk, actor=other_rep).done_at
    again = complete_task(task_id=task.pk, actor=sales_rep)

    assert again.done_at == first
    assert again.done_by == other_rep
    assert not Task.objects.open().exists()
