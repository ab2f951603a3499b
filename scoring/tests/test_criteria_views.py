"""The criteria pages: everyone reads them, Ada the admin edits a draft, previews and
publishes it, and watches the re-score."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import EventType, Stage
from leads.tests.factories import EventFactory, LeadFactory
from scoring import services
from scoring.models import (
    CriteriaVersion,
    Criterion,
    CriterionKind,
    RescoreRun,
    StageDefinition,
    VersionStatus,
)
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rules_cache():
    # Published rules are cached per version number, and numbers repeat between tests.
    services._rules_cache.clear()
    yield
    services._rules_cache.clear()


def active_version():
    version = CriteriaVersionFactory(
        status=VersionStatus.PUBLISHED, mql_threshold=20, published_at=timezone.now()
    )
    CriterionFactory(
        version=version, kind=CriterionKind.ENGAGEMENT, name="Pricing interest",
        event_type=EventType.PAGE_VIEW, url_contains="/pricing", min_count=3, window_days=14,
        points=20, half_life_days=14,
    )  # fmt: skip
    CriterionFactory(
        version=version, name="Big company", field="company_size", operator="gte", value="50",
        points=10, counts_towards_mql=True,
    )  # fmt: skip
    version.definitions.create(
        stage=Stage.MQL, definition="Interested and fits.", owning_team="marketing"
    )
    return version


def criterion_data(index: int, **fields) -> dict:
    values = {
        "id": "", "position": index, "kind": "fit", "name": f"Rule {index}", "points": 10,
        "field": "", "operator": "", "value": "", "event_type": "", "url_contains": "",
        "min_count": 1, "window_days": "", "cap": "", "half_life_days": "",
        "buying_signal": "",
    } | fields  # fmt: skip
    return {
        f"criteria-{index}-{name}": value for name, value in values.items() if value is not False
    }


def edit_data(version: CriteriaVersion, *criteria: dict, **policy) -> dict:
    """A complete POST of the edit page: the policy, these criteria and unchanged stages."""
    data = {
        "mql_threshold": 50,
        "mql_criteria_needed": "",
        "note": "",
        "criteria-TOTAL_FORMS": len(criteria),
        "criteria-INITIAL_FORMS": sum(1 for c in criteria if any(
            key.endswith("-id") and value for key, value in c.items()
        )),
        "criteria-MIN_NUM_FORMS": 0,
        "criteria-MAX_NUM_FORMS": 1000,
        "definitions-TOTAL_FORMS": len(Stage),
        "definitions-INITIAL_FORMS": len(Stage),
        "definitions-MIN_NUM_FORMS": len(Stage),
        "definitions-MAX_NUM_FORMS": len(Stage),
    } | policy  # fmt: skip
    existing = {d.stage: d for d in version.definitions.all()}
    for index, stage in enumerate(Stage):
        definition = existing.get(stage)
        default_team = "marketing" if stage in ("contact", "lead", "mql", "nurture") else "sales"
        data[f"definitions-{index}-definition"] = definition.definition if definition else ""
        data[f"definitions-{index}-owning_team"] = (
            definition.owning_team if definition else default_team
        )
        data[f"definitions-{index}-effective_from"] = ""
    for criterion in criteria:
        data |= criterion
    return {key: value for key, value in data.items() if value is not None}


def pricing_rule(index: int = 0, **fields) -> dict:
    rule = {
        "kind": "engagement", "name": "Pricing 3x in 14 days", "points": 20,
        "event_type": EventType.PAGE_VIEW, "url_contains": "/pricing", "min_count": 3,
        "window_days": 14,
    }  # fmt: skip
    return criterion_data(index, **(rule | fields))


# --- Reading ---------------------------------------------------------------------------------


def test_alice_reads_the_active_criteria_in_plain_words(client, marketer):
    active_version()
    client.force_login(marketer)

    response = client.get(reverse("scoring:criteria"))

    content = response.content.decode()
    assert response.status_code == 200
    assert (
        "Page view, URL contains /pricing, 3x within 14 days: +20, fades by half every 14 days"
        in content
    )
    assert "Company size (employees) is at least 50: +10" in content
    assert "A lead becomes an MQL at a score of 20." in content
    assert "Interested and fits." in content
    assert reverse("scoring:draft") not in content
    assert "Start a draft" not in content


def test_ada_sees_the_controls_to_start_a_draft(client, admin_user):
    active_version()
    client.force_login(admin_user)

    response = client.get(reverse("scoring:criteria"))

    assert "Start a draft" in response.content.decode()


def test_ada_sees_edit_preview_and_publish_once_a_draft_exists(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)

    content = client.get(reverse("scoring:criteria")).content.decode()

    assert reverse("scoring:edit", args=[draft.pk]) in content
    assert reverse("scoring:preview", args=[draft.pk]) in content
    assert reverse("scoring:publish", args=[draft.pk]) in content


def test_the_navigation_shows_qualification_to_those_who_work_leads(client, marketer, no_role_user):
    client.force_login(marketer)
    assert reverse("scoring:criteria") in client.get(reverse("home")).content.decode()

    client.force_login(no_role_user)
    assert reverse("scoring:criteria") not in client.get(reverse("home")).content.decode()


# --- Starting and editing a draft ------------------------------------------------------------


def test_ada_starts_a_draft_copied_from_the_active_version(client, admin_user):
    active = active_version()
    client.force_login(admin_user)

    response = client.post(reverse("scoring:draft"))

    draft = CriteriaVersion.objects.draft()
    assert response.status_code == 302
    assert response.url == reverse("scoring:edit", args=[draft.pk])
    assert draft.number == active.number + 1
    assert draft.criteria.count() == 2
    assert client.get(response.url).status_code == 200


def test_starting_a_draft_again_returns_to_the_same_draft(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("scoring:draft"))

    response = client.post(reverse("scoring:draft"))

    assert CriteriaVersion.objects.filter(status=VersionStatus.DRAFT).count() == 1
    assert response.url == reverse("scoring:edit", args=[CriteriaVersion.objects.draft().pk])


def test_ada_saves_the_policy_a_new_criterion_and_a_stage_definition(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)
    data = edit_data(draft, pricing_rule(0, half_life_days=14), note="Pricing counts")
    mql_index = list(Stage).index(Stage.MQL)
    data[f"definitions-{mql_index}-definition"] = "Three pricing visits."
    data[f"definitions-{mql_index}-effective_from"] = "2026-12-01"

    response = client.post(reverse("scoring:edit", args=[draft.pk]), data)

    assert response.status_code == 302, response.context and response.context["rules"].errors
    draft.refresh_from_db()
    assert (draft.mql_threshold, draft.note) == (50, "Pricing counts")
    (rule,) = draft.criteria.all()
    assert (rule.kind, rule.points, rule.url_contains, rule.half_life_days) == (
        "engagement", 20, "/pricing", 14,
    )  # fmt: skip
    (definition,) = draft.definitions.all()
    assert (definition.stage, definition.definition) == (Stage.MQL, "Three pricing visits.")
    assert str(definition.effective_from) == "2026-12-01"


def test_ada_changes_and_deletes_criteria_of_the_draft(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    keep = CriterionFactory(version=draft, field="company_size", operator="gte", value="10")
    drop = CriterionFactory(version=draft, field="industry", operator="equals", value="bouw")
    client.force_login(admin_user)
    data = edit_data(
        draft,
        criterion_data(0, id=keep.pk, name="Big company", field="company_size",
                       operator="gte", value="250", points=15),
        criterion_data(1, id=drop.pk, name=drop.name, field="industry", operator="equals",
                       value="bouw", DELETE="on"),
    )  # fmt: skip

    response = client.post(reverse("scoring:edit", args=[draft.pk]), data)

    assert response.status_code == 302
    assert list(draft.criteria.values_list("name", "value", "points")) == [
        ("Big company", "250", 15)
    ]


def test_a_bad_criterion_saves_nothing_not_even_the_good_parts(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT, mql_threshold=30, note="")
    client.force_login(admin_user)
    data = edit_data(
        draft,
        pricing_rule(0),
        criterion_data(1, name="Odd title", field="job_title", operator="matches", value="(ceo"),
        note="Should not be saved",
    )

    response = client.post(reverse("scoring:edit", args=[draft.pk]), data)

    assert response.status_code == 200
    assert "This is not a valid pattern" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.mql_threshold, draft.note) == (30, "")
    assert not draft.criteria.exists()
    assert not StageDefinition.objects.filter(version=draft).exists()


@pytest.mark.parametrize(
    ("criterion", "field", "message"),
    [
        (
            {"field": "job_title", "operator": "matches", "value": "[a-"},
            "value",
            "This is not a valid pattern",
        ),
        (
            {"field": "company_size", "operator": "gte", "value": "fifty"},
            "value",
            "Give a number",
        ),
        ({"field": "company_size", "operator": "gte", "value": "NaN"}, "value", "Give a number"),
        ({"field": "company_size", "operator": "lte", "value": ""}, "value", "Give the value"),
        ({"field": "", "operator": "equals", "value": "x"}, "field", "Choose the field"),
        ({"field": "industry", "operator": "", "value": "x"}, "operator", "Choose how"),
        (
            {
                "kind": "lead_definition",
                "field": "email",
                "operator": "email_domain_not_in",
                "value": "gmail.com",
                "points": 5,
            },
            "points",
            "gives no points",
        ),  # fmt: skip
        ({"kind": "engagement", "event_type": "page_view", "points": 0}, "points", "needs points"),
        (
            {"kind": "engagement", "event_type": "page_view", "cap": 40},
            "cap",
            "only to points per occurrence",
        ),
        ({"kind": "engagement", "event_type": "capture"}, "event_type", "Select a valid choice"),
        ({"field": "password", "operator": "is_set"}, "field", "Select a valid choice"),
    ],
)
def test_a_criterion_that_cannot_work_is_refused_with_a_reason(
    client, admin_user, criterion, field, message
):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)

    response = client.post(
        reverse("scoring:edit", args=[draft.pk]), edit_data(draft, criterion_data(0, **criterion))
    )

    assert response.status_code == 200
    form = response.context["rules"].forms[0]
    assert message in " ".join(form.errors[field])
    assert not draft.criteria.exists()


def test_a_threshold_that_is_not_a_number_is_refused(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT, mql_threshold=30)
    client.force_login(admin_user)

    response = client.post(
        reverse("scoring:edit", args=[draft.pk]), edit_data(draft, mql_threshold="lots")
    )

    assert response.status_code == 200
    assert response.context["policy"].errors["mql_threshold"]
    draft.refresh_from_db()
    assert draft.mql_threshold == 30


def test_an_is_set_rule_needs_no_value_and_a_points_per_visit_rule_may_have_a_cap(
    client, admin_user
):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)
    data = edit_data(
        draft,
        criterion_data(0, name="Budget known", field="budget", operator="is_set"),
        pricing_rule(1, per_occurrence="on", cap=40, points=5),
    )

    response = client.post(reverse("scoring:edit", args=[draft.pk]), data)

    assert response.status_code == 302
    assert draft.criteria.get(name="Budget known").value == ""
    assert draft.criteria.get(per_occurrence=True).cap == 40


def test_a_published_version_cannot_be_edited(client, admin_user):
    active = active_version()
    client.force_login(admin_user)

    get = client.get(reverse("scoring:edit", args=[active.pk]))
    post = client.post(
        reverse("scoring:edit", args=[active.pk]), edit_data(active, pricing_rule(0), note="x")
    )

    assert get.url == reverse("scoring:criteria")
    assert post.url == reverse("scoring:criteria")
    active.refresh_from_db()
    assert (active.mql_threshold, active.note, active.criteria.count()) == (20, "", 2)


def test_alice_may_not_start_edit_preview_or_publish(client, marketer):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    CriterionFactory(version=draft)
    client.force_login(marketer)

    assert client.post(reverse("scoring:draft")).status_code == 403
    assert client.post(reverse("scoring:edit", args=[draft.pk]), {}).status_code == 403
    assert client.get(reverse("scoring:preview", args=[draft.pk])).status_code == 403
    assert client.post(reverse("scoring:publish", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert CriteriaVersion.objects.count() == 1


# --- Preview and publishing ------------------------------------------------------------------


def test_the_preview_shows_moves_with_example_leads_and_the_backtest(client, admin_user):
    active_version()
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT, mql_threshold=20)
    CriterionFactory(
        version=draft, kind=CriterionKind.ENGAGEMENT, name="Quote", points=40,
        event_type=EventType.QUOTE_REQUEST,
    )  # fmt: skip
    lead = LeadFactory(email="eva@bouw.nl", first_name="Eva", last_name="Bos", stage=Stage.LEAD)
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="", occurred_at=timezone.now())
    client.force_login(admin_user)

    response = client.get(reverse("scoring:preview", args=[draft.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "1 lead scored" in content
    assert "1 lead</th>" in content
    assert reverse("leads:detail", args=[lead.pk]) in content
    assert "Eva Bos" in content
    assert f"Draft version {draft.number}" in content
    assert "Active version" in content
    assert reverse("scoring:publish", args=[draft.pk]) in content
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD


def test_publishing_retires_the_old_version_and_shows_the_rescore(client, admin_user):
    old = active_version()
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    CriterionFactory(version=draft)
    LeadFactory.create_batch(3)
    client.force_login(admin_user)

    response = client.post(reverse("scoring:publish", args=[draft.pk]))

    run = RescoreRun.objects.get(version=draft)
    assert response.url == reverse("scoring:run", args=[run.pk])
    assert run.total == 3
    old.refresh_from_db()
    draft.refresh_from_db()
    assert (old.status, draft.status) == (VersionStatus.RETIRED, VersionStatus.PUBLISHED)
    assert draft.published_by == admin_user


def test_publishing_a_draft_without_criteria_is_refused_and_goes_back_to_the_draft(
    client, admin_user
):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)

    response = client.post(reverse("scoring:publish", args=[draft.pk]), follow=True)

    assert response.redirect_chain[0][0] == reverse("scoring:edit", args=[draft.pk])
    assert "Add at least one criterion before publishing." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert not RescoreRun.objects.exists()


def test_publish_answers_a_get_with_405(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)

    assert client.get(reverse("scoring:publish", args=[draft.pk])).status_code == 405


def test_a_published_version_is_not_previewed(client, admin_user):
    active = active_version()
    client.force_login(admin_user)

    response = client.get(reverse("scoring:preview", args=[active.pk]))

    assert response.url == reverse("scoring:criteria")


# --- The re-score's progress -----------------------------------------------------------------


def test_the_run_page_shows_progress_and_polls_while_running(client, admin_user):
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    run = RescoreRun.objects.create(version=version, total=200, done=50, moved=7)
    client.force_login(admin_user)

    response = client.get(reverse("scoring:run", args=[run.pk]))

    content = response.content.decode()
    assert "50 of 200 leads scored (25%)" in content
    assert "7 leads changed stage" in content
    assert 'hx-trigger="every 2s"' in content
    assert "<h1" in content
    assert f'href="{reverse("scoring:run", args=[run.pk])}"' in content


def test_htmx_gets_only_the_progress_part(client, admin_user):
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    run = RescoreRun.objects.create(version=version, total=200, done=150)
    client.force_login(admin_user)

    response = client.get(reverse("scoring:run", args=[run.pk]), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "150 of 200 leads scored (75%)" in content
    assert "<h1" not in content
    assert 'id="rescore-progress"' in content


def test_a_finished_run_stops_polling(client, admin_user):
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    run = RescoreRun.objects.create(
        version=version, total=2, done=2, finished_at=timezone.now() - timedelta(minutes=1)
    )
    client.force_login(admin_user)

    response = client.get(reverse("scoring:run", args=[run.pk]), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "hx-trigger" not in content
    assert "Finished" in content


def test_criteria_rows_keep_their_order_by_position(client, admin_user):
    draft = CriteriaVersionFactory(status=VersionStatus.DRAFT)
    client.force_login(admin_user)
    data = edit_data(
        draft,
        criterion_data(0, name="Second", field="industry", operator="equals", value="a",
                       position=2),
        criterion_data(1, name="First", field="industry", operator="equals", value="b",
                       position=1),
    )  # fmt: skip

    client.post(reverse("scoring:edit", args=[draft.pk]), data)

    assert list(Criterion.objects.filter(version=draft).values_list("name", flat=True)) == [
        "First",
        "Second",
    ]
