"""Adding leads to nurture from the lead list: the bulk service and the list's action."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring.bulk import add_to_nurture
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db

NURTURE = reverse("scoring:nurture")
LIST = reverse("leads:list")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _stage(lead: Lead) -> str:
    lead.refresh_from_db()
    return lead.stage


# --- The service ----------------------------------------------------------------------------


def test_each_lead_moves_to_nurture_with_who_and_why(marketer):
    leads = [LeadFactory(stage=Stage.MQL, score=40), LeadFactory(stage=Stage.LEAD, score=10)]

    moved, refusals = add_to_nurture(
        lead_ids=[lead.pk for lead in leads], actor=marketer, reason="Budget next year"
    )

    assert (moved, refusals) == (2, [])
    assert [_stage(lead) for lead in leads] == [Stage.NURTURE, Stage.NURTURE]
    records = StageTransition.objects.order_by("lead_id")
    assert [(r.from_stage, r.to_stage, r.actor, r.reason, r.score) for r in records] == [
        (Stage.MQL, Stage.NURTURE, marketer, "Budget next year", 40),
        (Stage.LEAD, Stage.NURTURE, marketer, "Budget next year", 10),
    ]


def test_leads_that_cannot_move_are_reported_and_the_others_still_move(marketer):
    movable = LeadFactory(stage=Stage.SQL)
    nurtured = LeadFactory(first_name="Nina", last_name="Nurture", stage=Stage.NURTURE)
    merged = LeadFactory(first_name="Mo", last_name="Merged", merged_into=movable)
    gone = LeadFactory()
    gone_id = gone.pk
    gone.delete()

    moved, refusals = add_to_nurture(
        lead_ids=[nurtured.pk, movable.pk, merged.pk, gone_id], actor=marketer, reason="Later"
    )

    assert moved == 1
    assert _stage(movable) == Stage.NURTURE
    assert refusals == [
        "Nina Nurture: This lead is in Nurture already.",
        "Mo Merged: This lead was merged into another lead.",
        f"Lead {gone_id}: This lead does not exist (any more).",
    ]
    assert StageTransition.objects.count() == 1


def test_a_lead_named_twice_moves_once(marketer):
    lead = LeadFactory(stage=Stage.MQL)

    assert add_to_nurture(lead_ids=[lead.pk, lead.pk], actor=marketer, reason="x") == (1, [])


def test_without_a_reason_every_lead_is_refused(marketer):
    lead = LeadFactory(stage=Stage.MQL, first_name="Femke", last_name="Bakker")

    moved, refusals = add_to_nurture(lead_ids=[lead.pk], actor=marketer, reason="  ")

    assert moved == 0
    assert refusals == ["Femke Bakker: Say why this lead moves to Nurture."]
    assert _stage(lead) == Stage.MQL


# --- The action on the lead list ------------------------------------------------------------


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_that_works_leads_adds_ticked_leads_to_nurture(client, request, persona):
    user = request.getfixturevalue(persona)
    leads = LeadFactory.create_batch(2, stage=Stage.MQL)
    client.force_login(user)

    response = client.post(
        NURTURE,
        {
            "lead": [lead.pk for lead in leads],
            "nurture_reason": "No budget this year",
            "next": f"{LIST}?stage=mql",
        },
    )

    assert response.status_code == 302
    assert response.url == f"{LIST}?stage=mql"
    assert _messages(response) == ["2 leads moved to nurture."]
    assert [_stage(lead) for lead in leads] == [Stage.NURTURE, Stage.NURTURE]
    assert set(StageTransition.objects.values_list("actor", "reason")) == {
        (user.pk, "No budget this year")
    }


def test_the_message_lists_the_leads_that_did_not_move(client, sales_rep):
    movable = LeadFactory(stage=Stage.MQL)
    nurtured = LeadFactory(first_name="Nina", last_name="Nurture", stage=Stage.NURTURE)
    client.force_login(sales_rep)

    response = client.post(NURTURE, {"lead": [movable.pk, nurtured.pk], "nurture_reason": "Later"})

    assert response.url == LIST
    assert _messages(response) == [
        "1 lead moved to nurture.",
        "1 lead was not moved: Nina Nurture: This lead is in Nurture already.",
    ]


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_missing_reason_is_an_error_and_nothing_moves(client, marketer, reason):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(marketer)

    response = client.post(NURTURE, {"lead": [lead.pk], "nurture_reason": reason})

    assert response.status_code == 302
    assert _messages(response) == ["Say why these leads go to nurture."]
    assert _stage(lead) == Stage.MQL
    assert not StageTransition.objects.exists()


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({}, "Select at least one lead."),
        ({"lead": ["abc"]}, "Tick leads in the list; this is not a lead."),
        ({"lead": ["-4"]}, "Tick leads in the list; this is not a lead."),
        ({"lead": ["99999999999999999999"]}, "Tick leads in the list; this is not a lead."),
        ({"lead": [str(n) for n in range(1, 502)]}, "Select at most 500 leads at a time."),
    ],
)
def test_bad_selections_are_errors_and_nothing_moves(client, marketer, posted, message):
    client.force_login(marketer)

    response = client.post(NURTURE, posted | {"nurture_reason": "Later"})

    assert response.status_code == 302
    assert _messages(response) == [message]
    assert not StageTransition.objects.exists()


def test_the_way_back_must_stay_on_this_site(client, marketer):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(marketer)

    response = client.post(
        NURTURE,
        {"lead": [lead.pk], "nurture_reason": "Later", "next": "https://evil.example/leads/"},
    )

    assert response.url == LIST


def test_a_user_without_a_role_may_not_add_to_nurture(client, no_role_user):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(no_role_user)

    response = client.post(NURTURE, {"lead": [lead.pk], "nurture_reason": "Later"})

    assert response.status_code == 403
    assert _stage(lead) == Stage.MQL


def test_nurture_is_post_only(client, marketer):
    client.force_login(marketer)

    assert client.get(NURTURE).status_code == 405
