import pytest
from django.utils import timezone

from leads.demo_data import (
    DemoOwners,
    demo_history,
    demo_lead,
    ensure_demo_histories,
    load_demo_leads,
)
from leads.models import Lead, Stage
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db


def test_demo_leads_come_with_a_history_up_to_their_stage(sales_rep):
    result = load_demo_leads(300, owners=DemoOwners([sales_rep.pk]))

    assert 2.0 * 300 < result.transitions < 4.0 * 300
    assert StageTransition.objects.count() == result.transitions
    for lead in Lead.objects.exclude(stage=Stage.CONTACT)[:100]:
        moves = list(StageTransition.objects.filter(lead=lead).order_by("occurred_at", "id"))
        assert moves[-1].to_stage == lead.stage
        assert moves[0].from_stage == Stage.CONTACT
        assert all(a.to_stage == b.from_stage for a, b in zip(moves, moves[1:], strict=False))
        times = [move.occurred_at for move in moves]
        assert times == sorted(times) and times[0] >= lead.created_at
        for move in moves:
            automatic = move.to_stage in (Stage.CONTACT, Stage.LEAD, Stage.MQL)
            assert (move.actor_id is None) == automatic
            if move.to_stage == Stage.SQL:
                assert set(move.details["bant"]) == {"budget", "authority", "need", "timeline"}
            if move.to_stage == Stage.OPPORTUNITY:
                assert move.details["offer"]["amount"]
    assert StageTransition.objects.filter(details__has_key="rejection").exists()


def test_the_same_index_always_gives_the_same_history():
    now = timezone.now()
    owners = DemoOwners([3, 4])
    lead = demo_lead(42, now=now, owners=owners)
    assert demo_history(42, lead, now=now, owners=owners) == demo_history(
        42, lead, now=now, owners=owners
    )


def test_leads_without_a_history_get_one_once(sales_rep):
    load_demo_leads(50, owners=DemoOwners([sales_rep.pk]))
    StageTransition.objects.all().delete()

    first = ensure_demo_histories(owners=DemoOwners([sales_rep.pk]))
    second = ensure_demo_histories(owners=DemoOwners([sales_rep.pk]))

    assert first > 50 and second == 0
    assert StageTransition.objects.count() == first
