"""Profiling on consent: without a current grant, a lead's behaviour is not scored."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.models import ConsentMethod, LegalBasis, Purpose
from consent.services import ConsentGiven, record_consents
from leads.models import EventType, Lead
from leads.tests.factories import EventFactory, LeadFactory
from scoring import compiled, engine, services
from scoring.models import CriterionKind, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory
from scoring.tests.test_compiled import (
    NOW,
    criteria,
    engine_score,
    make_leads,
    make_version,
    policies,
)
from scoring.tests.test_compiled import leads as lead_specs_strategy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def profiling_on_consent(profiling_on_legitimate_interest):
    Purpose.objects.filter(key="profiling").update(legal_basis=LegalBasis.CONSENT)


def choose(lead_id: int, granted: bool, key: str = "profiling") -> None:
    record_consents(
        subject_id=lead_id, given=[ConsentGiven(key, granted)], method=ConsentMethod.MANUAL
    )


@pytest.fixture
def quote_rule():
    version = CriteriaVersionFactory(number=1, status=VersionStatus.PUBLISHED, mql_threshold=30)
    CriterionFactory(
        version=version,
        kind=CriterionKind.ENGAGEMENT,
        name="Requested a quote",
        event_type=EventType.QUOTE_REQUEST,
        points=40,
    )
    return version


def scored(lead: Lead) -> Lead:
    services.rescore_lead(lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def test_without_profiling_consent_behaviour_gives_no_points_and_the_explanation_says_why(
    quote_rule,
):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")

    lead = scored(lead)

    assert lead.engagement_score == 0
    assert services.explanation(lead)["behaviour_not_scored"] is True


def test_with_profiling_consent_behaviour_counts(quote_rule):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")
    choose(lead.pk, True)

    lead = scored(lead)

    assert lead.engagement_score == 40
    assert services.explanation(lead)["behaviour_not_scored"] is False


def test_a_withdrawal_of_profiling_takes_the_points_away_at_the_next_scoring(quote_rule):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")
    choose(lead.pk, True)
    assert scored(lead).engagement_score == 40

    choose(lead.pk, False)

    assert scored(lead).engagement_score == 0


def test_a_grant_of_another_purpose_does_not_open_the_gate(quote_rule):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")
    choose(lead.pk, True, key="marketing_email")

    assert scored(lead).engagement_score == 0


def test_profiling_on_legitimate_interest_needs_no_consent(quote_rule):
    Purpose.objects.filter(key="profiling").update(legal_basis=LegalBasis.LEGITIMATE_INTEREST)
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")

    lead = scored(lead)

    assert lead.engagement_score == 40
    assert services.explanation(lead)["behaviour_not_scored"] is False


def test_the_score_panel_and_the_api_say_behaviour_is_not_scored(quote_rule, marketer):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")
    scored(lead)
    client = Client()
    client.force_login(marketer)

    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    api = client.get(f"/api/v1/leads/{lead.pk}/score/").json()

    assert "has not consented to profiling" in page
    assert api["behaviour_not_scored"] is True


def test_fit_points_still_count_without_profiling_consent():
    version = CriteriaVersionFactory(number=1, status=VersionStatus.PUBLISHED)
    CriterionFactory(
        version=version,
        kind=CriterionKind.FIT,
        name="Decision maker",
        field="is_decision_maker",
        operator="equals",
        value="true",
        points=15,
    )
    lead = LeadFactory(is_decision_maker=True)

    assert scored(lead).fit_score == 15


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_specs=st.lists(criteria(), min_size=1, max_size=6),
    policy=policies,
    lead_specs=st.lists(lead_specs_strategy, min_size=1, max_size=4),
    choices=st.lists(st.lists(st.booleans(), max_size=3), min_size=4, max_size=4),
)
def test_the_compiled_gate_is_the_engines(rule_specs, policy, lead_specs, choices):
    """Random leads with random histories of profiling choices: the set-based score sees
    the same gate as the engine."""
    with transaction.atomic():
        version = make_version(rule_specs, policy)
        rules = engine.Rules.of(version)
        ids = make_leads(lead_specs, merged=False)
        for lead_id, history in zip(ids, choices, strict=False):
            for granted in history:
                choose(lead_id, granted)
        gate = services.profiling_purposes()
        assert gate

        scores = compiled.score_leads(
            rules, NOW, id_range=(min(ids), max(ids)), profiling_purposes=gate
        )

        for lead_id in ids:
            expected = engine_score(lead_id, rules, may_profile=services.may_profile(lead_id))
            got = scores[lead_id]
            assert got.points == expected.points
            assert (got.engagement, got.total) == (expected.engagement, expected.total)
            assert got.buying_stage == expected.buying_stage
        transaction.set_rollback(True)


def test_the_latest_choice_about_profiling_decides_the_gate(quote_rule):
    lead = LeadFactory()
    choose(lead.pk, False)
    choose(lead.pk, True)

    assert services.may_profile(lead.pk)


def test_a_choice_about_profiling_asks_for_a_rescore_and_other_choices_do_not():
    from outbox.models import OutboxMessage

    profiled, marketed = LeadFactory.create_batch(2)
    OutboxMessage.objects.all().delete()

    choose(profiled.pk, False)
    choose(marketed.pk, True, key="marketing_email")

    asked = OutboxMessage.objects.filter(task=services.RESCORE_TASK)
    assert [message.args for message in asked] == [[profiled.pk]]


def test_switching_the_profiling_purpose_off_does_not_profile_those_without_consent(quote_rule):
    lead = LeadFactory()
    EventFactory(lead=lead, type=EventType.QUOTE_REQUEST, url="")
    choose(lead.pk, True)
    choose(lead.pk, False)
    Purpose.objects.filter(key="profiling").update(is_active=False)

    assert scored(lead).engagement_score == 0


def test_changing_whether_profiling_needs_consent_scores_everyone_again(quote_rule, admin_user):
    from consent.admin_services import update_purpose
    from outbox.models import OutboxMessage
    from scoring.models import RescoreRun

    profiling = Purpose.objects.get(key="profiling")
    notice = profiling.current_notice()
    fields = {
        "name_en": profiling.name_en,
        "name_nl": profiling.name_nl,
        "is_marketing": False,
        "is_profiling": True,
        "requires_double_opt_in": False,
        "is_active": True,
        "text_en": notice.text_en,
        "text_nl": notice.text_nl,
    }

    update_purpose(actor=admin_user, purpose_id=profiling.pk, legal_basis="consent", **fields)
    assert not RescoreRun.objects.exists(), "nothing changed, nothing to do"
    update_purpose(
        actor=admin_user,
        purpose_id=profiling.pk,
        legal_basis=LegalBasis.LEGITIMATE_INTEREST,
        **fields,
    )

    (run,) = RescoreRun.objects.all()
    assert OutboxMessage.objects.filter(task=services.RESCORE_ALL_TASK, args=[run.pk]).exists()
