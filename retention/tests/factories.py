from datetime import timedelta

import factory
from django.utils import timezone

from consent.services import ConsentGiven, record_consents
from leads.models import Lead
from leads.tests.factories import LeadFactory
from retention.models import AppliesTo, RetentionPolicy


class RetentionPolicyFactory(factory.django.DjangoModelFactory[RetentionPolicy]):
    class Meta:
        model = RetentionPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    applies_to = AppliesTo.CONTACTS
    months = 6


def old_lead(*, days: int = 3 * 365, **fields) -> Lead:
    """A lead whose last activity was `days` ago."""
    return LeadFactory(last_activity_at=timezone.now() - timedelta(days=days), **fields)


def record(lead: Lead, purpose_key: str, *, granted: bool = True) -> None:
    """A grant (or withdrawal) of one of the default purposes, recorded now."""
    record_consents(subject_id=lead.pk, given=[ConsentGiven(purpose_key, granted)], method="manual")
