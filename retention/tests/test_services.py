"""The dry run, erasing what has expired, and the runs that record it."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from consent.models import ConsentRecord
from leads.models import Event, EventType, Lead, Stage
from leads.tests.factories import EventFactory
from outbox.models import OutboxMessage
from privacy.models import RequestKind, SubjectRequest
from retention import services
from retention.models import AppliesTo, RetentionRun
from retention.tasks import apply_retention_task
from retention.tests.factories import RetentionPolicyFactory, old_lead, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts_policy():
    return RetentionPolicyFactory(name="Old contacts", applies_to=AppliesTo.CONTACTS, months=6)


@pytest.fixture
def people(contacts_policy):
    """Two expired contacts (one with events and a consent history), one recent contact and
    an old MQL."""
    expired = old_lead(stage=Stage.CONTACT, first_name="Erik", email="erik@example.nl")
    EventFactory(lead=expired, type=EventType.PAGE_VIEW)
    record(expired, "marketing_email")
    record(expired, "marketing_email", granted=False)
    return {
        "expired": expired,
        "also_expired": old_lead(stage=Stage.CONTACT),
        "recent": old_lead(days=10, stage=Stage.CONTACT),
        "mql": old_lead(stage=Stage.MQL),
    }


def test_the_dry_run_counts_and_shows_examples_and_changes_nothing(people, contacts_policy):
    RetentionPolicyFactory(name="Switched off", months=1, is_active=False)
    leads_before = Lead.objects.count()

    reports = services.dry_run()

    assert [report.policy for report in reports] == [contacts_policy]
    (report,) = reports
    assert report.count == 2
    assert {example.id for example in report.examples} == {
        people["expired"].pk,
        people["also_expired"].pk,
    }
    assert report.examples[0].stage == Stage.CONTACT
    assert "6 months" in report.reason
    assert Lead.objects.count() == leads_before
    assert not RetentionRun.objects.exists()
    assert not SubjectRequest.objects.exists()


def test_the_dry_run_shows_at_most_twenty_examples_oldest_activity_first(contacts_policy):
    leads = [old_lead(days=400 + n, stage=Stage.CONTACT) for n in range(25)]

    (report,) = services.dry_run()

    assert report.count == 25
    assert [example.id for example in report.examples] == [lead.pk for lead in leads[::-1]][:20]


def test_apply_erases_the_expired_leads_and_records_the_run(people, contacts_policy):
    expired = people["expired"]

    result = services.apply_retention()

    assert result.erased == 2
    remaining = set(Lead.objects.values_list("pk", flat=True))
    assert remaining == {people["recent"].pk, people["mql"].pk}
    assert not Event.objects.filter(lead_id=expired.pk).exists()
    assert not ConsentRecord.objects.filter(subject_id=expired.pk).exists()
    run = RetentionRun.objects.get()
    assert run.finished_at is not None
    assert run.actor is None
    assert not run.dry_run
    assert run.erased == 2
    assert run.counts == [
        {
            "policy": contacts_policy.pk, "name": "Old contacts", "applies_to": "contacts",
            "months": 6, "expired": 2, "erased": 2, "skipped": 0, "failed": 0,
        }
    ]  # fmt: skip
    erasures = SubjectRequest.objects.filter(kind=RequestKind.ERASURE)
    assert erasures.count() == 2
    assert {erasure.channel for erasure in erasures} == {"retention"}
    assert all("Old contacts" in erasure.reason for erasure in erasures)
    # The log says nothing about who was erased.
    assert "erik" not in str(list(RetentionRun.objects.values())).lower()


def test_running_twice_is_harmless(people):
    services.apply_retention()

    second = services.apply_retention()

    assert second.erased == 0
    assert second.failed == 0
    assert Lead.objects.count() == 2
    assert RetentionRun.objects.count() == 2


def test_a_limit_caps_the_erasures_of_a_run_across_policies(contacts_policy):
    RetentionPolicyFactory(applies_to=AppliesTo.INACTIVE_WITHOUT_CONSENT, months=24)
    for _n in range(3):
        old_lead(stage=Stage.CONTACT)
    old_lead(stage=Stage.LOST)

    result = services.apply_retention(limit=2)

    assert result.erased == 2
    assert Lead.objects.count() == 2
    assert [count["erased"] for count in result.run.counts] == [2, 0]
    assert services.apply_retention().erased == 2


def test_a_lead_that_became_active_after_the_selection_is_not_erased(contacts_policy):
    lead = old_lead(stage=Stage.CONTACT)
    now = timezone.now()
    ids = list(services.expired_leads(contacts_policy, now).values_list("pk", flat=True))
    Lead.objects.filter(pk=lead.pk).update(last_activity_at=timezone.now())

    result = services.apply_retention(now)

    assert ids == [lead.pk]
    assert result.erased == 0
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_failed_erasure_is_counted_and_the_others_go_on(monkeypatch, contacts_policy):
    first, second = old_lead(stage=Stage.CONTACT), old_lead(stage=Stage.CONTACT)
    real_erase = services._erase

    def erase_all_but_first(lead, **kwargs):
        if lead.pk == first.pk:
            raise RuntimeError("disk full")
        real_erase(lead, **kwargs)

    monkeypatch.setattr(services, "_erase", erase_all_but_first)

    result = services.apply_retention()

    assert (result.erased, result.failed) == (1, 1)
    assert set(Lead.objects.values_list("pk", flat=True)) == {first.pk}
    assert second.pk not in set(Lead.objects.values_list("pk", flat=True))
    assert result.run.failed == 1


def test_a_recorded_dry_run_counts_without_erasing(people):
    result = services.apply_retention(dry_run=True)

    assert result.run.dry_run
    assert result.run.counts[0]["expired"] == 2
    assert result.erased == 0
    assert Lead.objects.count() == 4


def test_the_nightly_task_erases_what_has_expired(people):
    assert apply_retention_task() == 2
    assert RetentionRun.objects.get().actor is None


def test_an_admin_run_is_queued_then_done_by_the_task_once(people, admin_user):
    run = services.request_retention_run(actor=admin_user)

    assert run.finished_at is None
    assert OutboxMessage.objects.filter(
        task=services.APPLY_TASK, args=[run.pk], published_at__isnull=True
    ).exists()
    with pytest.raises(services.RunInProgress):
        services.request_retention_run(actor=admin_user)

    assert apply_retention_task(run.pk) == 2
    run.refresh_from_db()
    assert run.finished_at is not None
    assert run.actor == admin_user
    assert run.erased == 2
    erasure = SubjectRequest.objects.filter(kind=RequestKind.ERASURE).first()
    assert erasure.actor == admin_user
    # A task delivered twice does nothing more.
    assert apply_retention_task(run.pk) == 2
    assert RetentionRun.objects.count() == 1
    # Once finished, a new run may start.
    assert services.request_retention_run(actor=admin_user).pk != run.pk


def test_the_task_tolerates_a_run_that_is_gone():
    assert apply_retention_task(123456) == 0


def test_the_command_reports_per_policy_and_a_dry_run_erases_nothing(people):
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert "Old contacts: 2 expired, 0 erased, 0 failed" in out.getvalue()
    assert Lead.objects.count() == 4
    call_command("apply_retention", "--limit", "1", stdout=io.StringIO())
    assert Lead.objects.count() == 3
