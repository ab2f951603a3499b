"""Scoring one lead and every lead with the active criteria version."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import EventType, Lead, Stage
from leads.tests.factories import EventFactory, LeadFactory
from outbox.models import OutboxMessage
from scoring import services
from scoring.models import (
    CriteriaVersion,
    CriterionKind,
    LeadScore,
    RescoreRun,
    StageTransition,
    VersionStatus,
)
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = pytest.mark.django_db


def published_version(**policy):
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED, **policy)
    CriterionFactory(
        version=version,
        kind=CriterionKind.LEAD_DEFINITION,
        name="Business e-mail",
        field="email",
        operator="email_domain_not_in",
        value="gmail.com, hotmail.com",
        points=0,
    )
    CriterionFactory(
        version=version, name="Decision maker", field="is_decision_maker", operator="equals",
        value="true", points=15, counts_towards_mql=True,
    )  # fmt: skip
    CriterionFactory(
        version=version, kind=CriterionKind.ENGAGEMENT, name="Pricing page 3x in 14 days",
        event_type=EventType.PAGE_VIEW, url_contains="/pricing", min_count=3, window_days=14,
        points=20, counts_towards_mql=True, buying_signal="consideration",
    )  # fmt: skip
    CriterionFactory(
        version=version, kind=CriterionKind.ENGAGEMENT, name="Quote requested",
        event_type=EventType.QUOTE_REQUEST, points=40, half_life_days=90,
        buying_signal="purchase",
    )  # fmt: skip
    return version


def test_a_lead_meeting_the_threshold_becomes_mql_with_its_reasons_recorded():
    version = published_version(mql_threshold=50)
    lead = LeadFactory(email="eva@bouw.nl", stage=Stage.CONTACT, is_decision_maker=True)
    now = timezone.now()
    for days_ago in (1, 2, 3):
        EventFactory(
            lead=lead, url="https://bouw.nl/pricing", occurred_at=now - timedelta(days=days_ago)
        )
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="", occurred_at=now)

    score = services.rescore_lead(lead_id=lead.pk, now=now)

    lead.refresh_from_db()
    assert (score.fit, score.engagement, score.total) == (15, 60, 75)
    assert (lead.score, lead.stage, lead.scoring.version) == (75, Stage.MQL, version.number)
    assert lead.scoring.points == [1, 15, 20, 40]
    assert lead.buying_stage == "purchase"
    moves = list(StageTransition.objects.filter(lead=lead).order_by("id"))
    assert [(m.from_stage, m.to_stage) for m in moves] == [("contact", "lead"), ("lead", "mql")]
    assert all(m.actor is None and m.criteria_version == version for m in moves)
    assert "threshold of 50" in moves[1].reason
    explained = services.explanation(lead)
    assert [(line["criterion"], line["points"]) for line in explained["lines"]] == [
        ("Business e-mail", 0), ("Decision maker", 15), ("Pricing page 3x in 14 days", 20),
        ("Quote requested", 40),
    ]  # fmt: skip


def test_scoring_twice_changes_nothing_and_a_free_address_stays_contact():
    published_version(mql_threshold=10)
    lead = LeadFactory(email="jan@gmail.com", stage=Stage.CONTACT, is_decision_maker=True)

    services.rescore_lead(lead_id=lead.pk)
    services.rescore_lead(lead_id=lead.pk)

    lead.refresh_from_db()
    assert (lead.stage, lead.score) == (Stage.CONTACT, 15)
    assert not StageTransition.objects.filter(lead=lead).exists()


def test_publishing_a_draft_retires_the_old_version_and_rescores_everyone(admin_user):
    old = published_version(mql_threshold=1000)
    leads = [LeadFactory(stage=Stage.CONTACT, is_decision_maker=True) for _ in range(5)]
    draft = services.start_draft(actor=admin_user)
    draft.mql_threshold = 15
    draft.save()

    run = services.publish(version=draft, actor=admin_user)

    assert OutboxMessage.objects.filter(task=services.RESCORE_ALL_TASK).exists()
    while services.rescore_chunk(run_id=run.pk):
        pass
    run.refresh_from_db()
    old.refresh_from_db()
    assert old.status == VersionStatus.RETIRED
    assert (run.done, run.total, run.moved, run.percent) == (5, 5, 5, 100)
    assert run.finished_at is not None
    assert set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("stage", flat=True)
    ) == {Stage.MQL}
    assert draft.criteria.count() == old.criteria.count() == 4
    assert RescoreRun.objects.count() == 1


def test_before_anything_is_published_scoring_leaves_leads_alone():
    lead = LeadFactory(stage=Stage.CONTACT)

    assert services.rescore_lead(lead_id=lead.pk) is None
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACT
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_the_nightly_run_lets_engagement_fade_and_may_move_leads_back():
    published_version(mql_threshold=30, downgrade_on_decay=True)
    lead = LeadFactory(email="eva@bouw.nl", stage=Stage.CONTACT)
    then = timezone.now() - timedelta(days=200)
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="", occurred_at=then)
    services.rescore_lead(lead_id=lead.pk, now=then)
    lead.refresh_from_db()
    assert (lead.stage, lead.engagement_score) == (Stage.MQL, 40)

    moved = services.rescore_fading()

    lead.refresh_from_db()
    # 200 days at a half-life of 90: 40 * 0.5 ** (200 / 90) = 8.6 -> 9 points.
    assert (moved, lead.engagement_score, lead.stage) == (1, 9, Stage.LEAD)
    assert StageTransition.objects.filter(lead=lead).latest("id").reason.startswith("No longer")


def test_a_burst_of_requests_is_scored_in_one_batch_task():
    from scoring.tasks import rescore_leads_task

    published_version(mql_threshold=10)
    leads = [LeadFactory(stage=Stage.CONTACT, is_decision_maker=True) for _ in range(3)]

    rescore_leads_task([lead.pk for lead in leads] + [leads[0].pk])

    assert set(Lead.objects.values_list("stage", "score")) == {(Stage.MQL, 15)}


def test_a_full_rescore_goes_chunk_by_chunk_over_ranges_of_ids(admin_user, monkeypatch):
    monkeypatch.setattr(services, "RESCORE_CHUNK", 2)
    published_version(mql_threshold=1000)
    leads = [LeadFactory(stage=Stage.CONTACT, is_decision_maker=True) for _ in range(5)]
    # A merged-away lead inside a chunk's range is neither scored nor counted.
    LeadFactory(stage=Stage.CONTACT, merged_into=leads[0])
    leads.append(LeadFactory(stage=Stage.CONTACT, is_decision_maker=True))
    draft = services.start_draft(actor=admin_user)
    draft.mql_threshold = 15
    draft.save()
    run = services.publish(version=draft, actor=admin_user)

    chunks = 0
    while services.rescore_chunk(run_id=run.pk):
        chunks += 1
        run.refresh_from_db()
        assert run.done == min(2 * chunks, 6)

    run.refresh_from_db()
    assert (chunks, run.done, run.total, run.moved) == (3, 6, 6, 6)
    assert LeadScore.objects.filter(version=draft.number).count() == 6
    assert set(Lead.objects.active().values_list("stage", flat=True)) == {Stage.MQL}


@pytest.mark.django_db(transaction=True)
def test_the_full_rescore_task_works_on_two_connections_and_takes_back_a_dead_workers_range(
    admin_user, monkeypatch, settings
):
    from scoring.tasks import rescore_all_task

    settings.RESCORE_CONNECTIONS = 2
    monkeypatch.setattr(services, "RESCORE_CHUNK", 3)
    published_version(mql_threshold=1000)
    leads = [LeadFactory(stage=Stage.CONTACT, is_decision_maker=True) for _ in range(20)]
    draft = services.start_draft(actor=admin_user)
    draft.mql_threshold = 15
    draft.save()
    run = services.publish(version=draft, actor=admin_user)
    # A worker took the first range and died with it.
    lost = services._claim_range(run.pk, timezone.now())
    assert lost is not None
    assert RescoreRun.objects.get(pk=run.pk).in_flight == [list(lost[1])]

    rescore_all_task(run.pk)

    run.refresh_from_db()
    assert run.finished_at is not None
    assert (run.done, run.total, run.moved, run.in_flight, run.to_redo) == (20, 20, 20, [], [])
    ids = [lead.pk for lead in leads]
    assert set(Lead.objects.filter(pk__in=ids).values_list("stage", flat=True)) == {Stage.MQL}
    assert LeadScore.objects.filter(lead_id__in=ids, version=draft.number).count() == 20
    # Each lead moved once per step, the lost range included.
    assert StageTransition.objects.filter(lead_id__in=ids).count() == 40


def test_a_range_that_fails_goes_back_to_be_scored_again(admin_user, monkeypatch):
    monkeypatch.setattr(services, "RESCORE_CHUNK", 2)
    published_version(mql_threshold=1000)
    for _ in range(4):
        LeadFactory(stage=Stage.CONTACT, is_decision_maker=True)
    draft = services.start_draft(actor=admin_user)
    draft.mql_threshold = 15
    draft.save()
    run = services.publish(version=draft, actor=admin_user)
    scoring = services.rescore_leads

    def failing(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "rescore_leads", failing)
    with pytest.raises(RuntimeError):
        services.rescore_chunk(run_id=run.pk)
    run.refresh_from_db()
    assert (run.in_flight, len(run.to_redo), run.done) == ([], 1, 0)

    monkeypatch.setattr(services, "rescore_leads", scoring)
    while services.rescore_chunk(run_id=run.pk):
        pass
    run.refresh_from_db()
    assert (run.done, run.to_redo, run.finished_at is not None) == (4, [], True)


def test_the_nightly_run_stops_when_another_version_is_published_meanwhile(monkeypatch):
    version = published_version(mql_threshold=10)
    leads = [LeadFactory(stage=Stage.CONTACT, engagement_score=5) for _ in range(3)]
    chunks = []
    scoring = services.rescore_leads

    def then_publish(**kwargs):
        chunks.append(kwargs["lead_ids"])
        CriteriaVersion.objects.filter(pk=version.pk).update(status=VersionStatus.RETIRED)
        CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
        return scoring(**kwargs)

    monkeypatch.setattr(services, "rescore_leads", then_publish)
    services.rescore_fading(chunk=1)

    assert chunks == [[leads[0].pk]]
