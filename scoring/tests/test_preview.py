"""Previewing a draft: the moves publishing would make and the backtest, with nothing saved."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import EventType, Lead, Stage
from leads.tests.factories import EventFactory, LeadFactory
from scoring import preview, services
from scoring.models import CriterionKind, StageTransition, VersionStatus
from scoring.preview import Example, preview_impact
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _fresh_rules_cache():
    # Published rules are cached per process; each test starts without any.
    services._rules_cache.clear()
    yield
    services._rules_cache.clear()


def active_version():
    """In force: a company of 50 or more people is an MQL."""
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED, mql_threshold=20)
    CriterionFactory(
        version=version, name="Company size fits", field="company_size", operator="gte",
        value="50", points=20,
    )  # fmt: skip
    return version


def draft_version(**policy):
    """The draft: a business address makes a lead, three pricing visits an MQL."""
    version = CriteriaVersionFactory(
        status=VersionStatus.DRAFT, mql_threshold=20, downgrade_on_decay=True, **policy
    )
    CriterionFactory(
        version=version, kind=CriterionKind.LEAD_DEFINITION, name="Business e-mail",
        field="email", operator="email_domain_not_in", value="gmail.com", points=0,
    )  # fmt: skip
    CriterionFactory(
        version=version, kind=CriterionKind.ENGAGEMENT, name="Pricing 3x in 14 days",
        event_type=EventType.PAGE_VIEW, url_contains="/pricing", min_count=3, window_days=14,
        points=20,
    )  # fmt: skip
    return version


def pricing_visits(lead, times: int) -> None:
    for day in range(1, times + 1):
        EventFactory(
            lead=lead, url="https://bouw.nl/pricing", occurred_at=NOW - timedelta(days=day)
        )


def went_through(lead, *stages) -> None:
    previous = Stage.MQL
    for stage in stages:
        StageTransition.objects.create(lead=lead, from_stage=previous, to_stage=stage, score=0)
        previous = stage


@pytest.fixture
def leads():
    """Seven leads whose fate under the draft is known, and one merged away."""
    ann = LeadFactory(email="ann@bouw.nl", first_name="Ann", last_name="Smit", stage=Stage.CONTACT)
    pricing_visits(ann, 3)
    ben = LeadFactory(email="ben@bouw.nl", stage=Stage.LEAD)
    pricing_visits(ben, 3)
    cas = LeadFactory(email="cas@gmail.com", stage=Stage.LEAD)
    dirk = LeadFactory(email="dirk@groot.nl", stage=Stage.MQL, company_size=100)
    eva = LeadFactory(email="eva@bouw.nl", stage=Stage.OPPORTUNITY)
    pricing_visits(eva, 3)
    went_through(eva, Stage.SQL, Stage.OPPORTUNITY)
    fay = LeadFactory(email="fay@groot.nl", stage=Stage.WON, company_size=500)
    went_through(fay, Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
    gijs = LeadFactory(email="gijs@bouw.nl", stage=Stage.CONTACT)
    pricing_visits(gijs, 2)
    merged = LeadFactory(email="ann@oud.nl", stage=Stage.CONTACT, merged_into=ann)
    pricing_visits(merged, 3)
    return {"ann": ann, "ben": ben, "cas": cas, "dirk": dirk, "eva": eva, "fay": fay, "gijs": gijs}


def moves_of(impact) -> dict[tuple[str, str], int]:
    return {(move.from_stage, move.to_stage): move.count for move in impact.moves}


def test_preview_counts_each_move_once_from_where_a_lead_is_to_where_it_ends(leads):
    active_version()
    draft = draft_version()

    impact = preview_impact(draft, now=NOW)

    assert impact.scored == 7
    assert moves_of(impact) == {
        (Stage.CONTACT, Stage.LEAD): 1,  # Gijs: two pricing visits are not enough
        (Stage.CONTACT, Stage.MQL): 1,  # Ann: through lead to MQL, counted once
        (Stage.LEAD, Stage.CONTACT): 1,  # Cas: a free address is no lead any more
        (Stage.LEAD, Stage.MQL): 1,  # Ben
        (Stage.MQL, Stage.LEAD): 1,  # Dirk: company size no longer counts
    }
    assert [move.to_stage for move in impact.moves][:2] == [Stage.LEAD, Stage.MQL]
    assert impact.moved == 5


def test_preview_names_example_leads_for_each_move(leads):
    draft = draft_version()

    impact = preview_impact(draft, now=NOW)

    examples = {m.from_stage + ">" + m.to_stage: m.examples for m in impact.moves}
    assert examples["contact>mql"] == [Example(leads["ann"].pk, "Ann Smit")]
    assert examples["lead>mql"] == [Example(leads["ben"].pk, str(leads["ben"]))]


def test_preview_shows_at_most_the_asked_number_of_examples_lowest_ids_first():
    draft = draft_version()
    contacts = [LeadFactory(email=f"c{n}@bouw.nl", stage=Stage.CONTACT) for n in range(4)]
    for contact in contacts:
        pricing_visits(contact, 3)

    impact = preview_impact(draft, now=NOW, examples=2)

    (move,) = impact.moves
    assert (move.from_stage, move.to_stage, move.count) == (Stage.CONTACT, Stage.MQL, 4)
    assert [example.lead_id for example in move.examples] == [c.pk for c in contacts[:2]]


def test_without_downgrade_on_decay_leads_stay_where_they_are(leads):
    draft = draft_version()
    draft.downgrade_on_decay = False
    draft.save()

    impact = preview_impact(draft, now=NOW)

    assert moves_of(impact) == {
        (Stage.CONTACT, Stage.LEAD): 1,
        (Stage.CONTACT, Stage.MQL): 1,
        (Stage.LEAD, Stage.MQL): 1,
    }


def test_backtest_compares_what_the_qualified_leads_of_each_version_went_on_to(leads):
    active = active_version()
    draft = draft_version()

    impact = preview_impact(draft, now=NOW)

    # The draft qualifies Ann, Ben and Eva; only Eva went on, to SQL and opportunity.
    backtest = impact.backtest
    assert backtest.version_number == draft.number
    assert (backtest.qualified, backtest.reached_sql) == (3, 1)
    assert (backtest.reached_opportunity, backtest.reached_won) == (1, 0)
    # The active version qualifies Dirk and Fay; Fay was won.
    theirs = impact.active_backtest
    assert theirs.version_number == active.number
    assert (theirs.qualified, theirs.reached_sql) == (2, 1)
    assert (theirs.reached_opportunity, theirs.reached_won) == (1, 1)


def test_before_anything_is_published_there_is_no_backtest_to_compare_with(leads):
    draft = draft_version()

    impact = preview_impact(draft, now=NOW)

    assert impact.active_backtest is None
    assert impact.backtest.qualified == 3


def test_preview_saves_nothing(leads):
    active_version()
    draft = draft_version()
    before = list(Lead.objects.order_by("pk").values_list("stage", "score", "scoring__version"))
    transitions = StageTransition.objects.count()

    preview_impact(draft, now=NOW)

    after = list(Lead.objects.order_by("pk").values_list("stage", "score", "scoring__version"))
    assert after == before
    assert StageTransition.objects.count() == transitions


def test_preview_figures_equal_what_publishing_then_does(leads, admin_user):
    active_version()
    draft = draft_version()
    impact = preview_impact(draft, now=NOW)
    stages_before = dict(Lead.objects.values_list("pk", "stage"))

    run = services.publish(version=draft, actor=admin_user)
    while services.rescore_chunk(run_id=run.pk, now=NOW):
        pass

    stages_after = dict(Lead.objects.active().values_list("pk", "stage"))
    done = {}
    for pk, stage in stages_after.items():
        if stage != stages_before[pk]:
            key = (stages_before[pk], stage)
            done[key] = done.get(key, 0) + 1
    assert done == moves_of(impact)


def test_preview_takes_the_same_number_of_queries_for_few_or_many_leads(monkeypatch):
    active_version()
    draft = draft_version()
    monkeypatch.setattr(preview, "PREVIEW_CHUNK", 50)
    for n in range(3):
        pricing_visits(LeadFactory(email=f"few{n}@bouw.nl"), 3)
    preview_impact(draft, now=NOW)  # The active version's rules are cached after this.
    with CaptureQueriesContext(connection) as few:
        preview_impact(draft, now=NOW)
    for n in range(30):
        pricing_visits(LeadFactory(email=f"many{n}@bouw.nl"), 3)

    with CaptureQueriesContext(connection) as many:
        preview_impact(draft, now=NOW)

    assert len(many) == len(few)


def test_a_lead_standing_in_a_later_stage_counts_as_having_reached_it(leads):
    # Imported as won, without any stage history.
    hans = LeadFactory(email="hans@bouw.nl", stage=Stage.WON)
    pricing_visits(hans, 3)
    draft = draft_version()

    backtest = preview_impact(draft, now=NOW).backtest

    # Ann, Ben, Eva as before, and Hans, whose stage says he went all the way.
    assert (backtest.qualified, backtest.reached_sql) == (4, 2)
    assert (backtest.reached_opportunity, backtest.reached_won) == (2, 1)


def test_an_impact_survives_its_trip_through_json(leads):
    active_version()
    impact = preview_impact(draft_version(), now=NOW)

    assert preview.impact_from_json(preview.impact_as_json(impact)) == impact


def test_with_many_leads_the_preview_is_worked_out_in_the_background(
    leads, client, admin_user, settings
):
    from django.urls import reverse

    from outbox.models import OutboxMessage
    from scoring.models import ImpactPreview

    settings.SCORING_PREVIEW_INLINE_LEADS = 3
    draft = draft_version()
    client.force_login(admin_user)
    url = reverse("scoring:preview", args=[draft.pk])

    pending = client.get(url)

    assert pending.status_code == 200
    assert b'http-equiv="refresh"' in pending.content
    background = ImpactPreview.objects.get()
    assert OutboxMessage.objects.filter(task=preview.PREVIEW_TASK, args=[background.pk]).exists()
    assert client.get(url).status_code == 200 and ImpactPreview.objects.count() == 1

    preview.work_out_preview(preview_id=background.pk)
    done = client.get(url)

    assert done.context["impact"].moves == preview_impact(draft).moves
    assert b'http-equiv="refresh"' not in done.content
    # A change to the draft makes the figures stale: the next visit asks again.
    draft.save()
    assert b'http-equiv="refresh"' in client.get(url).content
    assert ImpactPreview.objects.count() == 2
