import factory
from django.utils import timezone

from leads.models import Event, EventType, Lead, Source, Stage


class LeadFactory(factory.django.DjangoModelFactory[Lead]):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@bedrijf{n % 7}.nl")
    first_name = factory.Faker("first_name", locale="nl_NL")
    last_name = factory.Faker("last_name", locale="nl_NL")
    company = factory.Faker("company", locale="nl_NL")
    job_title = "Inkoper"
    country = "NL"
    source = Source.WEB_FORM
    stage = Stage.LEAD


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    lead = factory.SubFactory(LeadFactory)
    type = EventType.PAGE_VIEW
    url = "https://example.nl/prijzen"
    occurred_at = factory.LazyFunction(timezone.now)


def lead_at(*, score: int = 0, **fields) -> Lead:
    """A lead whose created_at is what the test says (auto_now_add ignores a passed value)."""
    created_at = fields.pop("created_at", None)
    lead = LeadFactory(score=score, **fields)
    if created_at is not None:
        Lead.objects.filter(pk=lead.pk).update(created_at=created_at)
        lead.created_at = created_at
    return lead
