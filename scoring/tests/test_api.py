"""The qualification API: GET /api/v1/leads/{id}/score/ and POST /api/v1/leads/{id}/transition/."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import CriterionKind, LeadScore, StageTransition, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rules_cache(monkeypatch):
    # The engine caches a published version's rules by number for the whole process; other
    # tests' versions may have had the numbers these tests' versions get.
    monkeypatch.setattr(services, "_rules_cache", {})


BANT = {"budget": "25k", "authority": "CFO signs", "need": "CRM", "timeline": "Q2"}
PERSONAS = ["marketer", "sales_rep", "sales_manager", "admin_user"]


def score_url(lead_or_pk) -> str:
    return reverse("api:lead-score", args=[getattr(lead_or_pk, "pk", lead_or_pk)])


def transition_url(lead_or_pk) -> str:
    return reverse("api:lead-transition", args=[getattr(lead_or_pk, "pk", lead_or_pk)])


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def bob(sales_rep) -> APIClient:
    """Bob the sales rep, through the API."""
    return client_for(sales_rep)


@pytest.fixture
def alice(marketer) -> APIClient:
    return client_for(marketer)


def _scored_lead() -> Lead:
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED, mql_threshold=50)
    CriterionFactory(
        version=version,
        kind=CriterionKind.LEAD_DEFINITION,
        name="Business e-mail address",
        field="email",
        operator="email_domain_not_in",
        value="gmail.com",
        points=0,
    )
    CriterionFactory(
        version=version,
        kind=CriterionKind.ENGAGEMENT,
        name="Pricing page 3x in 14 days",
        event_type="page_view",
        url_contains="/pricing",
        min_count=3,
        window_days=14,
        points=20,
    )
    CriterionFactory(version=version, kind=CriterionKind.FIT, name="Student", points=-10)
    CriterionFactory(version=version, kind=CriterionKind.FIT, name="Decision maker", points=15)
    lead = LeadFactory(stage=Stage.LEAD)
    Lead.objects.filter(pk=lead.pk).update(
        score=10,
        fit_score=-10,
        engagement_score=20,
        buying_stage="consideration",
    )
    LeadScore.objects.create(
        lead=lead, version=version.number, points=[1, 20, -10, 0], scored_at=timezone.now()
    )
    return lead


# --- The score ---------------------------------------------------------------------------


def test_the_score_lists_every_criterion_with_its_points_and_the_subtotals(alice):
    lead = _scored_lead()

    body = alice.get(score_url(lead)).json()

    assert body["scored"] is True
    assert (body["score"], body["fit"], body["engagement"]) == (10, -10, 20)
    assert body["version"] == LeadScore.objects.get(lead=lead).version
    assert body["buying_stage"] == "consideration"
    assert body["scored_at"]
    assert body["criteria"] == [
        {"criterion": "Business e-mail address", "kind": "lead_definition", "met": True,
         "points": 0},
        {"criterion": "Pricing page 3x in 14 days", "kind": "engagement", "met": True,
         "points": 20},
        {"criterion": "Student", "kind": "fit", "met": True, "points": -10},
        {"criterion": "Decision maker", "kind": "fit", "met": False, "points": 0},
    ]  # fmt: skip


def test_a_lead_never_scored_says_so_with_an_empty_list(alice):
    lead = LeadFactory(score=0)

    response = alice.get(score_url(lead))

    assert response.status_code == 200
    assert response.json() == {
        "scored": False,
        "version": None,
        "score": 0,
        "fit": 0,
        "engagement": 0,
        "buying_stage": "",
        "scored_at": None,
        "behaviour_not_scored": False,
        "criteria": [],
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_role_reads_scores(persona, request):
    response = client_for(request.getfixturevalue(persona)).get(score_url(LeadFactory()))

    assert response.status_code == 200


def test_the_score_asks_for_credentials_and_a_role(no_role_user):
    lead = LeadFactory()

    anonymous = APIClient().get(score_url(lead))
    nora = client_for(no_role_user).get(score_url(lead))

    assert anonymous.status_code == 401 and "detail" in anonymous.json()["errors"]
    assert nora.status_code == 403 and "detail" in nora.json()["errors"]


def test_the_score_of_an_unknown_lead_is_not_found_in_json(alice):
    response = alice.get(score_url(999_999))

    assert response.status_code == 404
    assert "detail" in response.json()["errors"]


# --- Transitions --------------------------------------------------------------------------


def test_bob_accepts_an_mql_with_bant_and_gets_the_record(bob, sales_rep):
    lead = LeadFactory(stage=Stage.MQL, score=61)
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)

    response = bob.post(
        transition_url(lead),
        {"to_stage": "sql", "expected_stage": "mql", "reason": "Call went well", "bant": BANT},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    record = StageTransition.objects.get(lead=lead)
    assert body["id"] == record.pk
    assert (body["from_stage"], body["to_stage"], body["actor"]) == ("mql", "sql", sales_rep.pk)
    assert (body["reason"], body["score"], body["criteria_version"]) == (
        "Call went well",
        61,
        version.number,
    )
    assert body["details"] == {"bant": BANT}
    assert body["occurred_at"]
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL


def test_an_opportunity_records_the_offer(bob):
    lead = LeadFactory(stage=Stage.SQL)
    close = (timezone.localdate() + timedelta(days=20)).isoformat()

    response = bob.post(
        transition_url(lead),
        {"to_stage": "opportunity", "offer": {"amount": "4999.99", "expected_close_date": close}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["details"] == {
        "offer": {"amount": "4999.99", "expected_close_date": close}
    }
    assert response.json()["criteria_version"] is None


def test_alice_may_not_accept_her_own_mql_and_gets_403(alice):
    lead = LeadFactory(stage=Stage.MQL)

    response = alice.post(transition_url(lead), {"to_stage": "sql", "bant": BANT}, format="json")

    assert response.status_code == 403
    assert "Your role may not move a lead" in response.json()["errors"]["detail"][0]
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_missing_bant_is_a_400_on_the_bant_field(bob):
    lead = LeadFactory(stage=Stage.MQL)

    response = bob.post(transition_url(lead), {"to_stage": "sql"}, format="json")

    assert response.status_code == 400
    assert "missing: budget, authority, need, timeline" in response.json()["errors"]["bant"][0]
    assert not StageTransition.objects.exists()


def test_incomplete_bant_names_each_missing_answer(bob):
    lead = LeadFactory(stage=Stage.MQL)

    response = bob.post(
        transition_url(lead), {"to_stage": "sql", "bant": {"budget": "25k"}}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]["bant"]) == {"authority", "need", "timeline"}


def test_an_offer_in_the_past_is_refused(bob):
    lead = LeadFactory(stage=Stage.SQL)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    response = bob.post(
        transition_url(lead),
        {"to_stage": "opportunity", "offer": {"amount": "10", "expected_close_date": yesterday}},
        format="json",
    )

    assert response.status_code == 400
    assert "in the past" in response.json()["errors"]["offer"][0]


def test_a_negative_amount_is_refused_by_the_input_check(bob):
    lead = LeadFactory(stage=Stage.SQL)

    response = bob.post(
        transition_url(lead),
        {"to_stage": "opportunity", "offer": {"amount": "-1", "expected_close_date": "2099-01-01"}},
        format="json",
    )

    assert response.status_code == 400
    assert "amount" in response.json()["errors"]["offer"]


def test_closing_without_a_reason_is_a_400_on_the_reason_field(bob):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)

    response = bob.post(transition_url(lead), {"to_stage": "lost"}, format="json")

    assert response.status_code == 400
    assert "Say why" in response.json()["errors"]["reason"][0]


def test_a_move_the_policy_does_not_know_is_a_400(bob):
    lead = LeadFactory(stage=Stage.LEAD)

    response = bob.post(
        transition_url(lead), {"to_stage": "won", "reason": "Signed"}, format="json"
    )

    assert response.status_code == 400
    assert "only from Opportunity" in response.json()["errors"]["detail"][0]


def test_unknown_fields_and_stages_are_refused(bob):
    lead = LeadFactory(stage=Stage.MQL)

    response = bob.post(
        transition_url(lead),
        {"to_stage": "heaven", "stage": "sql", "bant": {**BANT, "mood": "good"}},
        format="json",
    )

    errors = response.json()["errors"]
    assert response.status_code == 400
    assert set(errors) == {"to_stage", "stage", "bant"}
    assert "mood" in errors["bant"]
    assert not StageTransition.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(bob):
    response = bob.post(transition_url(LeadFactory()), ["sql"], format="json")

    assert response.status_code == 400


def test_moving_an_unknown_lead_is_not_found(bob):
    response = bob.post(transition_url(999_999), {"to_stage": "nurture"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()["errors"]


def test_moving_asks_for_credentials_and_a_role(no_role_user):
    lead = LeadFactory(stage=Stage.LEAD)
    body = {"to_stage": "nurture", "reason": "Later"}

    anonymous = APIClient().post(transition_url(lead), body, format="json")
    nora = client_for(no_role_user).post(transition_url(lead), body, format="json")

    assert (anonymous.status_code, nora.status_code) == (401, 403)
    assert Lead.objects.get(pk=lead.pk).stage == Stage.LEAD


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_role_may_park_a_lead_in_nurture(persona, request):
    lead = LeadFactory(stage=Stage.MQL)

    response = client_for(request.getfixturevalue(persona)).post(
        transition_url(lead), {"to_stage": "nurture", "reason": "Budget in 2027"}, format="json"
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("persona", "status"),
    [("marketer", 200), ("sales_rep", 403), ("sales_manager", 403), ("admin_user", 200)],
)
def test_only_marketing_and_admins_move_a_lead_to_mql(persona, status, request):
    lead = LeadFactory(stage=Stage.LEAD)

    response = client_for(request.getfixturevalue(persona)).post(
        transition_url(lead), {"to_stage": "mql"}, format="json"
    )

    assert response.status_code == status


def test_the_second_of_two_people_moving_the_same_lead_gets_409(bob, other_rep):
    lead = LeadFactory(stage=Stage.MQL)
    rob = client_for(other_rep)

    first = bob.post(
        transition_url(lead),
        {"to_stage": "sql", "expected_stage": "mql", "bant": BANT},
        format="json",
    )
    second = rob.post(
        transition_url(lead),
        {"to_stage": "nurture", "expected_stage": "mql", "reason": "Not now"},
        format="json",
    )

    assert (first.status_code, second.status_code) == (200, 409)
    assert second.json()["errors"]["detail"] == [
        "Someone moved this lead to Sales qualified meanwhile; nothing was changed."
    ]
    assert list(StageTransition.objects.filter(lead=lead).values_list("to_stage", flat=True)) == [
        Stage.SQL
    ]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_moves_of_one_lead_make_one_transition_and_one_conflict(
    sales_rep, other_rep, monkeypatch
):
    lead = LeadFactory(stage=Stage.MQL)
    real_transition = services.transition
    barrier = threading.Barrier(2)

    def racing_transition(**kwargs):
        # Both requests have validated their input before either locks the lead.
        barrier.wait(timeout=5)
        return real_transition(**kwargs)

    monkeypatch.setattr("scoring.api.transition", racing_transition)
    statuses, errors = [], []

    def move(user, body) -> None:
        try:
            response = client_for(user).post(transition_url(lead), body, format="json")
            statuses.append(response.status_code)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=move,
            args=(sales_rep, {"to_stage": "sql", "expected_stage": "mql", "bant": BANT}),
        ),
        threading.Thread(
            target=move,
            args=(
                other_rep,
                {"to_stage": "disqualified", "expected_stage": "mql", "reason": "Competitor"},
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(statuses) == [200, 409]
    records = list(StageTransition.objects.filter(lead=lead))
    assert len(records) == 1
    assert Lead.objects.get(pk=lead.pk).stage == records[0].to_stage
