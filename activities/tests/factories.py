"""Leads at a sales stage, moved there the way the product does (through `transition`), so
their history is what the board and the panel read."""

from datetime import date, timedelta

from django.utils import timezone

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring.models import StageTransition
from scoring.services import transition

BANT = {"budget": "50k", "authority": "CFO", "need": "CRM", "timeline": "Q3"}


def offer(amount: str = "1000.00", close: date | None = None) -> dict:
    close = close or timezone.localdate() + timedelta(days=30)
    return {"offer": {"amount": amount, "expected_close_date": close}}


def lead_in(stage: Stage, *, actor, amount: str = "1000.00", **fields) -> Lead:
    """A lead that went MQL -> SQL (-> opportunity -> won/lost) by `actor`'s hand."""
    lead = LeadFactory(stage=Stage.MQL, **fields)
    path = [Stage.SQL, Stage.OPPORTUNITY, stage]
    for step in path[: path.index(stage) + 1]:
        details = {
            Stage.SQL: {"bant": BANT},
            Stage.OPPORTUNITY: offer(amount),
            Stage.LOST: {"loss": "price"},
        }.get(step, {})
        transition(lead_id=lead.pk, to_stage=step, actor=actor, reason="test", details=details)
    lead.refresh_from_db()
    return lead


def backdate(lead: Lead, stage: Stage, days: int) -> None:
    """Pretend the lead entered `stage` `days` ago."""
    StageTransition.objects.filter(lead=lead, to_stage=stage).update(
        occurred_at=timezone.now() - timedelta(days=days)
    )
