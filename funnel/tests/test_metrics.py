import random
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from funnel import metrics
from funnel.metrics import Filters, preset_period, refresh_read_model
from funnel.models import FunnelFact, LeadMilestone
from funnel.tests.recompute import comparable, recompute, shown
from leads.models import Lead, OwnerChange, Source, Stage
from leads.tests.factories import LeadFactory
from sales.models import SalesTeam
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db

STAGES = [stage.value for stage in Stage]
CAMPAIGNS = ["Webinar", "Beurs", ""]


def random_history(rng: random.Random, *, leads: int, owners: list) -> list[Lead]:
    """Leads with random stage histories: any stage after any, going back too, dated
    between their creation and now."""
    now = timezone.now()
    made, moves = [], []
    for _ in range(leads):
        created = now - timedelta(days=rng.uniform(0, 420))
        steps = [rng.choice(STAGES[1:]) for _ in range(rng.choice([0, 1, 2, 3, 4, 6]))]
        if rng.random() < 0.5:  # mostly the funnel's own order
            steps = sorted(steps, key=STAGES.index)
        times = sorted(created + (now - created) * rng.random() for _ in steps)
        lead = LeadFactory(
            stage=steps[-1] if steps else Stage.CONTACT,
            source=rng.choice([Source.WEB_FORM, Source.EVENT, Source.API]),
            campaign=rng.choice(CAMPAIGNS),
            owner=rng.choice([None, *owners]),
        )
        Lead.objects.filter(pk=lead.pk).update(created_at=created)
        current = Stage.CONTACT
        for step, at in zip(steps, times, strict=True):
            moves.append((lead, current, step, at))
            current = step
        made.append(lead)
    add_moves(moves)
    return made


def add_moves(moves: list[tuple]) -> None:
    created = StageTransition.objects.bulk_create(
        [StageTransition(lead=lead, from_stage=a, to_stage=b, score=0) for lead, a, b, _ in moves]
    )
    for transition, (*_rest, at) in zip(created, moves, strict=True):
        StageTransition.objects.filter(pk=transition.pk).update(occurred_at=at)


@pytest.fixture
def owners():
    return [UserFactory(roles=[Role.SALES_REP]) for _ in range(3)]


def period(name: str = "last_12_months", **attributes) -> Filters:
    start, end = preset_period(name)
    return Filters(start=start, end=end, **attributes)


def assert_exact(filters: Filters) -> None:
    assert shown(metrics.dashboard(filters)) == comparable(recompute(filters))


def assert_facts_equal_a_rebuild() -> None:
    key = ("kind", "day", "stage", "source", "campaign", "owner_id", "days", "count")
    incremental = set(FunnelFact.objects.values_list(*key))
    milestones = set(LeadMilestone.objects.values_list())
    metrics.rebuild_read_model()
    assert set(FunnelFact.objects.values_list(*key)) == incremental
    assert set(LeadMilestone.objects.values_list()) == milestones


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_number_equals_the_recomputation_before_and_after_the_refresh(seed, owners):
    rng = random.Random(seed)
    random_history(rng, leads=60, owners=owners)
    filters = period()
    assert_exact(filters)  # nothing refreshed: all of it from the raw history

    refresh_read_model()
    assert LeadMilestone.objects.count() == 60
    assert_exact(filters)
    assert_exact(period("last_30_days", ageing_days=5))


def test_transitions_after_the_refresh_count_at_once(owners):
    rng = random.Random(7)
    leads = random_history(rng, leads=40, owners=owners)
    refresh_read_model()
    now = timezone.now()
    # Sales moves some leads on and one lead changes owner, after the refresh ran.
    later = [(lead, lead.stage, Stage.MQL, now - timedelta(hours=1)) for lead in leads[:5]]
    later += [(lead, Stage.MQL, Stage.SQL, now - timedelta(minutes=30)) for lead in leads[:3]]
    add_moves(later)
    for lead in leads[:5]:
        Lead.objects.filter(pk=lead.pk).update(stage=Stage.SQL if lead in leads[:3] else Stage.MQL)
    Lead.objects.filter(pk=leads[10].pk).update(owner=owners[0])
    OwnerChange.objects.create(lead=leads[10], to_owner=owners[0], reason="test")
    fresh = LeadFactory(source=Source.EVENT)

    for filters in [period(), period(owner_id=owners[0].pk), period(source=Source.EVENT)]:
        assert_exact(filters)
    assert not LeadMilestone.objects.filter(lead_id=fresh.pk).exists()

    refresh_read_model()
    assert_exact(period())
    assert_facts_equal_a_rebuild()


def test_refresh_leaves_the_newest_minutes_for_the_next_run_and_stays_exact(owners):
    lead = LeadFactory(stage=Stage.LEAD)
    add_moves([(lead, Stage.CONTACT, Stage.LEAD, timezone.now())])
    result = refresh_read_model()

    assert result.watermark == 0  # the move is too new to be settled
    assert_exact(period("last_30_days"))
    assert refresh_read_model().leads >= 1  # taken again next time, harmlessly
    assert_exact(period("last_30_days"))


@pytest.mark.parametrize(
    "attributes",
    [
        {"source": Source.WEB_FORM},
        {"campaign": "Webinar"},
        {"source": Source.EVENT, "campaign": "Beurs"},
        {"ageing_days": 1},
        {"ageing_days": 365},
    ],
)
def test_filters_match_the_recomputation(attributes, owners):
    random_history(random.Random(11), leads=50, owners=owners)
    refresh_read_model()
    assert_exact(period(**attributes))
    assert_exact(period("this_quarter", **attributes))


def test_owner_and_team_filters_match_the_recomputation(owners):
    random_history(random.Random(5), leads=50, owners=owners)
    team = SalesTeam.objects.create(name="Noord")
    team.members.add(owners[0], owners[1])
    refresh_read_model()
    assert_exact(period(owner_id=owners[2].pk))
    assert_exact(period(team_id=team.pk))


def test_source_and_owner_changes_without_history_are_taken_in_by_the_refresh(owners):
    leads = random_history(random.Random(9), leads=20, owners=owners)
    refresh_read_model()
    Lead.objects.filter(pk=leads[0].pk).update(source=Source.REFERRAL, owner=owners[1])
    Lead.objects.filter(pk=leads[1].pk).delete()

    refresh_read_model()

    assert_exact(period(source=Source.REFERRAL))
    assert_exact(period())
    assert not LeadMilestone.objects.filter(lead_id=leads[1].pk).exists()
    assert_facts_equal_a_rebuild()


def test_a_lead_that_went_from_lead_to_sql_directly_reached_mql_for_conversion():
    lead = LeadFactory(stage=Stage.SQL)
    now = timezone.now()
    add_moves(
        [
            (lead, Stage.CONTACT, Stage.LEAD, now - timedelta(days=3)),
            (lead, Stage.LEAD, Stage.SQL, now - timedelta(days=2)),
        ]
    )
    data = metrics.dashboard(period("last_30_days"))
    lead_row = next(row for row in data.stages if row.stage == "lead")
    assert (lead_row.entered, lead_row.reached_next, lead_row.conversion) == (1, 1, 100.0)
    assert next(row for row in data.stages if row.stage == "mql").entered == 0


def test_percentile_is_nearest_rank_over_whole_days():
    assert metrics.percentile({1: 1, 2: 1, 3: 1, 4: 1}, 0.5) == 2
    assert metrics.percentile({0: 9, 10: 1}, 0.9) == 0
    assert metrics.percentile({0: 8, 10: 2}, 0.9) == 10
    assert metrics.percentile({}, 0.5) is None


def _rejected(lead, reason, *, at, to=Stage.NURTURE):
    add_moves([(lead, Stage.LEAD, Stage.MQL, at - timedelta(days=1))])
    transition = StageTransition.objects.create(
        lead=lead, from_stage=Stage.MQL, to_stage=to, score=0, details={"rejection": reason}
    )
    StageTransition.objects.filter(pk=transition.pk).update(occurred_at=at)


def test_rejections_by_reason_source_and_criterion():
    from scoring.models import CriteriaVersion, Criterion, CriterionKind, VersionStatus

    version = CriteriaVersion.objects.create(number=1, status=VersionStatus.PUBLISHED)
    for position, name in enumerate(["Decision maker", "Budget known", "Visited pricing"]):
        Criterion.objects.create(
            version=version, position=position, kind=CriterionKind.FIT, name=name, points=10
        )
    now = timezone.now()
    from scoring.models import LeadScore

    a = LeadFactory(stage=Stage.NURTURE, source=Source.WEB_FORM)
    LeadScore.objects.create(lead=a, version=1, points=[10, 0, 5], scored_at=now)
    b = LeadFactory(stage=Stage.DISQUALIFIED, source=Source.EVENT)
    LeadScore.objects.create(lead=b, version=1, points=[10, 0, 0], scored_at=now)
    c = LeadFactory(stage=Stage.NURTURE, source=Source.EVENT)
    _rejected(a, "no_budget", at=now - timedelta(days=2))
    _rejected(b, "no_budget", at=now - timedelta(days=3), to=Stage.DISQUALIFIED)
    _rejected(c, "not_ready", at=now - timedelta(days=100))  # outside the last 30 days

    data = metrics.dashboard(period("last_30_days"))

    assert data.rejections_total == 2
    assert [(code, n) for code, _label, n in data.rejections_by_reason] == [("no_budget", 2)]
    assert sorted((code, n) for code, _label, n in data.rejections_by_source) == [
        ("event", 1),
        ("web_form", 1),
    ]
    assert data.rejections_by_criterion == [(1, "Decision maker", 2), (1, "Visited pricing", 1)]
    only_events = metrics.dashboard(period("last_30_days", source=Source.EVENT))
    assert only_events.rejections_total == 1


def test_the_task_refreshes_the_read_model():
    from funnel.tasks import refresh_daily_counts_task

    LeadFactory()
    Lead.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert refresh_daily_counts_task() == 1
    assert LeadMilestone.objects.count() == 1
