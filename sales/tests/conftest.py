"""Helpers of the sales tests: leads handed over at a moment the test says."""

from datetime import datetime

import pytest

from leads.models import Lead, OwnerChange, Stage
from leads.tests.factories import LeadFactory
from scoring.models import StageTransition


def became_mql(lead: Lead, at: datetime) -> StageTransition:
    transition = StageTransition.objects.create(
        lead=lead, from_stage=Stage.LEAD, to_stage=Stage.MQL, score=lead.score
    )
    # occurred_at is auto_now_add: set the moment afterwards.
    StageTransition.objects.filter(pk=transition.pk).update(occurred_at=at)
    return transition


def given_to(lead: Lead, owner, at: datetime) -> None:
    change = OwnerChange.objects.create(lead=lead, from_owner=lead.owner, to_owner=owner)
    OwnerChange.objects.filter(pk=change.pk).update(changed_at=at)
    Lead.objects.filter(pk=lead.pk).update(owner=owner)
    lead.owner = owner


def handed_over(owner, at: datetime, *, stage: str = Stage.MQL, **fields) -> Lead:
    """A lead that became an MQL and was given to `owner`, both at `at`."""
    lead = LeadFactory(stage=stage, **fields)
    became_mql(lead, at)
    given_to(lead, owner, at)
    return lead


@pytest.fixture
def mql():
    def make(**fields) -> Lead:
        return LeadFactory(stage=Stage.MQL, **fields)

    return make
