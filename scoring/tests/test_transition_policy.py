"""The stage policy `transition` enforces: which moves exist, who may make them, and what
they need (a reason, BANT, an offer). Alice markets, Bob sells, Maud manages sales, Ada
administers, Nora has no role."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import StageDefinition, StageTransition, Team, VersionStatus
from scoring.services import TransitionForbidden, TransitionIncomplete, TransitionRefused
from scoring.tests.factories import CriteriaVersionFactory

pytestmark = pytest.mark.django_db

BANT = {
    "budget": "25k this year",
    "authority": "Signs herself",
    "need": "Replaces spreadsheets",
    "timeline": "Before Q2",
}


def _offer(days: int = 30, amount: str = "12500.00") -> dict:
    return {
        "amount": amount,
        "expected_close_date": (timezone.localdate() + timedelta(days=days)).isoformat(),
    }


def _stage(lead) -> str:
    return Lead.objects.get(pk=lead.pk).stage


def _refused_changes_nothing(lead, before: str) -> None:
    assert _stage(lead) == before
    assert not StageTransition.objects.filter(lead=lead).exists()


# --- Marketing's stages ------------------------------------------------------------------------


def test_alice_moves_a_lead_to_mql_and_back_between_marketing_stages(marketer):
    lead = LeadFactory(stage=Stage.CONTACT)

    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)
    services.transition(lead_id=lead.pk, to_stage=Stage.LEAD, actor=marketer)

    assert _stage(lead) == Stage.LEAD
    assert StageTransition.objects.filter(lead=lead).count() == 2


@pytest.mark.parametrize("persona", ["sales_rep", "sales_manager"])
def test_sales_may_not_move_leads_between_marketing_stages(persona, request):
    lead = LeadFactory(stage=Stage.LEAD)

    with pytest.raises(TransitionForbidden, match="Your role may not move a lead"):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.MQL, actor=request.getfixturevalue(persona)
        )

    _refused_changes_nothing(lead, Stage.LEAD)


def test_the_engine_moves_leads_between_contact_lead_and_mql():
    lead = LeadFactory(stage=Stage.CONTACT)

    services.transition(lead_id=lead.pk, to_stage=Stage.LEAD, actor=None)
    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=None)

    assert _stage(lead) == Stage.MQL


@pytest.mark.parametrize(
    ("start", "target"),
    [(Stage.MQL, Stage.SQL), (Stage.MQL, Stage.NURTURE), (Stage.NURTURE, Stage.LEAD)],
)
def test_the_engine_may_not_make_peoples_moves(start, target):
    lead = LeadFactory(stage=start)

    with pytest.raises(TransitionForbidden, match="a person moves a lead"):
        services.transition(
            lead_id=lead.pk, to_stage=target, actor=None, reason="x", details={"bant": BANT}
        )

    _refused_changes_nothing(lead, start)


def test_nora_without_a_role_may_move_nothing(no_role_user):
    lead = LeadFactory(stage=Stage.LEAD)

    with pytest.raises(TransitionForbidden):
        services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=no_role_user)

    _refused_changes_nothing(lead, Stage.LEAD)


# --- MQL -> SQL: sales accepts with BANT ----------------------------------------------------


@pytest.mark.parametrize("persona", ["sales_rep", "sales_manager", "admin_user"])
def test_sales_accepts_an_mql_with_bant_which_the_record_keeps(persona, request):
    lead = LeadFactory(stage=Stage.MQL)

    record = services.transition(
        lead_id=lead.pk,
        to_stage=Stage.SQL,
        actor=request.getfixturevalue(persona),
        details={"bant": {**BANT, "need": "  Replaces spreadsheets  "}},
    )

    assert _stage(lead) == Stage.SQL
    assert StageTransition.objects.get(pk=record.pk).details == {"bant": BANT}


def test_alice_may_not_hand_her_mql_over_as_sql_herself(marketer):
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionForbidden, match="Sales"):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.SQL, actor=marketer, details={"bant": BANT}
        )

    _refused_changes_nothing(lead, Stage.MQL)


@pytest.mark.parametrize(
    ("bant", "missing"),
    [
        (None, "budget, authority, need, timeline"),
        ({**BANT, "authority": ""}, "authority"),
        ({"budget": "25k", "need": "  "}, "authority, need, timeline"),
    ],
)
def test_accepting_without_complete_bant_is_refused_naming_what_is_missing(
    sales_rep, bant, missing
):
    lead = LeadFactory(stage=Stage.MQL)
    details = {} if bant is None else {"bant": bant}

    with pytest.raises(TransitionIncomplete, match=f"missing: {missing}") as refused:
        services.transition(lead_id=lead.pk, to_stage=Stage.SQL, actor=sales_rep, details=details)

    assert refused.value.field == "bant"
    _refused_changes_nothing(lead, Stage.MQL)


def test_bant_answers_are_short_texts(sales_rep):
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionIncomplete, match="at most 500 characters"):
        services.transition(
            lead_id=lead.pk,
            to_stage=Stage.SQL,
            actor=sales_rep,
            details={"bant": {**BANT, "need": "x" * 501}},
        )

    _refused_changes_nothing(lead, Stage.MQL)


@pytest.mark.parametrize("start", [Stage.CONTACT, Stage.LEAD])
def test_only_an_mql_becomes_an_sql(sales_rep, start):
    lead = LeadFactory(stage=start)

    with pytest.raises(TransitionRefused, match="only from Marketing qualified"):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.SQL, actor=sales_rep, details={"bant": BANT}
        )

    _refused_changes_nothing(lead, start)


# --- SQL -> opportunity: with an offer ------------------------------------------------------


def test_bob_makes_an_sql_an_opportunity_with_an_offer(sales_rep):
    lead = LeadFactory(stage=Stage.SQL)
    offer = _offer(days=0, amount="12500.5")

    record = services.transition(
        lead_id=lead.pk, to_stage=Stage.OPPORTUNITY, actor=sales_rep, details={"offer": offer}
    )

    assert _stage(lead) == Stage.OPPORTUNITY
    assert record.details == {
        "offer": {"amount": "12500.5", "expected_close_date": offer["expected_close_date"]}
    }


def test_an_offer_may_be_given_as_decimal_and_date(sales_rep):
    lead = LeadFactory(stage=Stage.SQL)
    close = timezone.localdate() + timedelta(days=3)

    record = services.transition(
        lead_id=lead.pk,
        to_stage=Stage.OPPORTUNITY,
        actor=sales_rep,
        details={"offer": {"amount": Decimal("900.00"), "expected_close_date": close}},
    )

    assert record.details["offer"] == {
        "amount": "900.00",
        "expected_close_date": close.isoformat(),
    }


@pytest.mark.parametrize(
    ("offer", "message"),
    [
        (None, "missing: amount, expected close date"),
        ({"amount": "100"}, "missing: expected close date"),
        (_offer(amount="0"), "above zero"),
        (_offer(amount="-5"), "above zero"),
        (_offer(amount="lots"), "above zero"),
        (_offer(days=-1), "cannot be in the past"),
        ({"amount": "100", "expected_close_date": "next week"}, "as a date"),
    ],
)
def test_an_opportunity_without_a_valid_offer_is_refused(sales_rep, offer, message):
    lead = LeadFactory(stage=Stage.SQL)
    details = {} if offer is None else {"offer": offer}

    with pytest.raises(TransitionIncomplete, match=message) as refused:
        services.transition(
            lead_id=lead.pk, to_stage=Stage.OPPORTUNITY, actor=sales_rep, details=details
        )

    assert refused.value.field == "offer"
    _refused_changes_nothing(lead, Stage.SQL)


def test_an_mql_cannot_skip_to_opportunity(sales_rep):
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionRefused, match="only from Sales qualified"):
        services.transition(
            lead_id=lead.pk,
            to_stage=Stage.OPPORTUNITY,
            actor=sales_rep,
            details={"offer": _offer()},
        )

    _refused_changes_nothing(lead, Stage.MQL)


def test_details_that_do_not_belong_to_the_move_are_refused(marketer):
    lead = LeadFactory(stage=Stage.LEAD)

    with pytest.raises(TransitionIncomplete, match="bant is not recorded") as refused:
        services.transition(
            lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer, details={"bant": BANT}
        )

    assert refused.value.field == "bant"
    _refused_changes_nothing(lead, Stage.LEAD)


# --- Won and lost: sales, with a reason -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"), [(Stage.OPPORTUNITY, Stage.WON), (Stage.SQL, Stage.LOST)]
)
def test_bob_closes_a_deal_with_a_reason(sales_rep, start, target):
    lead = LeadFactory(stage=start)

    record = services.transition(lead_id=lead.pk, to_stage=target, actor=sales_rep, reason="Signed")

    assert (record.reason, _stage(lead)) == ("Signed", target)


@pytest.mark.parametrize("target", [Stage.WON, Stage.LOST])
def test_closing_without_a_reason_is_refused(sales_rep, target):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)

    with pytest.raises(TransitionIncomplete, match="Say why") as refused:
        services.transition(lead_id=lead.pk, to_stage=target, actor=sales_rep, reason="  ")

    assert refused.value.field == "reason"
    _refused_changes_nothing(lead, Stage.OPPORTUNITY)


def test_alice_may_not_close_a_deal(marketer):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)

    with pytest.raises(TransitionForbidden):
        services.transition(lead_id=lead.pk, to_stage=Stage.WON, actor=marketer, reason="Yes")

    _refused_changes_nothing(lead, Stage.OPPORTUNITY)


def test_a_lead_cannot_be_won_without_being_an_opportunity(sales_rep):
    lead = LeadFactory(stage=Stage.SQL)

    with pytest.raises(TransitionRefused, match="only from Opportunity"):
        services.transition(lead_id=lead.pk, to_stage=Stage.WON, actor=sales_rep, reason="Yes")

    _refused_changes_nothing(lead, Stage.SQL)


# --- Nurture and disqualified: either team parks, the owner of the way back takes out -----


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager"])
@pytest.mark.parametrize("target", [Stage.NURTURE, Stage.DISQUALIFIED])
def test_either_team_parks_an_mql_with_a_reason(persona, target, request):
    lead = LeadFactory(stage=Stage.MQL)

    services.transition(
        lead_id=lead.pk, to_stage=target, actor=request.getfixturevalue(persona), reason="No budget"
    )

    assert _stage(lead) == target


@pytest.mark.parametrize("target", [Stage.NURTURE, Stage.DISQUALIFIED])
def test_parking_without_a_reason_is_refused(marketer, target):
    lead = LeadFactory(stage=Stage.LEAD)

    with pytest.raises(TransitionIncomplete, match="Say why"):
        services.transition(lead_id=lead.pk, to_stage=target, actor=marketer)

    _refused_changes_nothing(lead, Stage.LEAD)


def test_alice_takes_a_nurtured_lead_back_as_mql_but_bob_may_not(marketer, sales_rep):
    lead = LeadFactory(stage=Stage.NURTURE)

    with pytest.raises(TransitionForbidden):
        services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=sales_rep)
    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)

    assert _stage(lead) == Stage.MQL


def test_bob_takes_a_disqualified_lead_back_as_sql_with_bant_but_alice_may_not(marketer, sales_rep):
    lead = LeadFactory(stage=Stage.DISQUALIFIED)

    with pytest.raises(TransitionForbidden):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.SQL, actor=marketer, details={"bant": BANT}
        )
    with pytest.raises(TransitionIncomplete):
        services.transition(lead_id=lead.pk, to_stage=Stage.SQL, actor=sales_rep)
    services.transition(
        lead_id=lead.pk, to_stage=Stage.SQL, actor=sales_rep, details={"bant": BANT}
    )

    assert _stage(lead) == Stage.SQL


def test_ada_the_admin_may_make_any_move_the_policy_knows(admin_user):
    lead = LeadFactory(stage=Stage.CONTACT)

    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=admin_user)
    services.transition(
        lead_id=lead.pk, to_stage=Stage.SQL, actor=admin_user, details={"bant": BANT}
    )
    services.transition(
        lead_id=lead.pk, to_stage=Stage.OPPORTUNITY, actor=admin_user, details={"offer": _offer()}
    )
    services.transition(lead_id=lead.pk, to_stage=Stage.WON, actor=admin_user, reason="Signed")

    assert _stage(lead) == Stage.WON


# --- Owning teams come from the stage definitions of the version in force -------------------


def _active_version_where(stage: Stage, team: Team, *, effective_in_days: int | None = None):
    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    StageDefinition.objects.create(
        version=version,
        stage=stage,
        owning_team=team,
        definition="Accepted after a discovery call.",
        effective_from=None
        if effective_in_days is None
        else timezone.localdate() + timedelta(days=effective_in_days),
    )
    return version


def test_when_marketing_owns_sql_alice_accepts_and_the_record_names_the_version(
    marketer, sales_rep
):
    version = _active_version_where(Stage.SQL, Team.MARKETING)
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionForbidden):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.SQL, actor=sales_rep, details={"bant": BANT}
        )
    record = services.transition(
        lead_id=lead.pk, to_stage=Stage.SQL, actor=marketer, details={"bant": BANT}
    )

    assert record.criteria_version == version


def test_a_definition_not_yet_in_effect_leaves_the_default_owner(marketer):
    _active_version_where(Stage.SQL, Team.MARKETING, effective_in_days=7)
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionForbidden):
        services.transition(
            lead_id=lead.pk, to_stage=Stage.SQL, actor=marketer, details={"bant": BANT}
        )


def test_when_sales_owns_mql_bob_moves_leads_into_it(sales_rep):
    _active_version_where(Stage.MQL, Team.SALES)
    lead = LeadFactory(stage=Stage.LEAD)

    services.transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=sales_rep)

    assert _stage(lead) == Stage.MQL


# --- Concurrency ----------------------------------------------------------------------------


def test_the_second_of_two_people_moving_the_same_lead_gets_a_conflict(sales_rep, other_rep):
    lead = LeadFactory(stage=Stage.MQL)
    services.transition(
        lead_id=lead.pk,
        to_stage=Stage.SQL,
        actor=sales_rep,
        expected_stage=Stage.MQL,
        details={"bant": BANT},
    )

    with pytest.raises(services.TransitionConflict, match="Sales qualified meanwhile"):
        services.transition(
            lead_id=lead.pk,
            to_stage=Stage.NURTURE,
            actor=other_rep,
            reason="Not now",
            expected_stage=Stage.MQL,
        )

    assert _stage(lead) == Stage.SQL
    assert StageTransition.objects.filter(lead=lead).count() == 1


# --- Structured reasons: why sales sent a lead back, why a deal was lost ----------------------


def test_sales_sends_an_mql_back_with_a_listed_reason_the_record_keeps(sales_rep):
    lead = LeadFactory(stage=Stage.MQL)

    record = services.transition(
        lead_id=lead.pk,
        to_stage=Stage.NURTURE,
        actor=sales_rep,
        reason="Call again in spring",
        details={"rejection": "not_ready"},
    )

    assert record.details == {"rejection": "not_ready"}


def test_a_lost_deal_keeps_its_listed_reason(sales_rep):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)

    record = services.transition(
        lead_id=lead.pk,
        to_stage=Stage.LOST,
        actor=sales_rep,
        reason="Went with the cheaper one",
        details={"loss": "price"},
    )

    assert record.details == {"loss": "price"}


@pytest.mark.parametrize(
    ("target", "details"),
    [
        (Stage.NURTURE, {"rejection": "because"}),
        (Stage.LOST, {"loss": "not_ready"}),
        (Stage.NURTURE, {"loss": "price"}),
    ],
)
def test_a_reason_off_the_list_or_of_the_wrong_kind_is_refused(sales_rep, target, details):
    lead = LeadFactory(stage=Stage.MQL if target == Stage.NURTURE else Stage.OPPORTUNITY)
    before = lead.stage

    with pytest.raises(TransitionIncomplete):
        services.transition(
            lead_id=lead.pk, to_stage=target, actor=sales_rep, reason="x", details=details
        )

    _refused_changes_nothing(lead, before)
