import factory

from consent.models import NoticeVersion, Purpose
from webforms.models import WebForm


class PurposeFactory(factory.django.DjangoModelFactory[Purpose]):
    """A purpose of our own, so tests do not lean on the default purposes (a transactional
    test's flush removes those)."""

    class Meta:
        model = Purpose
        django_get_or_create = ["key"]

    key = factory.Sequence(lambda n: f"purpose-{n}")
    name_en = factory.LazyAttribute(lambda p: f"Purpose {p.key}")
    name_nl = factory.LazyAttribute(lambda p: f"Doel {p.key}")


class NoticeVersionFactory(factory.django.DjangoModelFactory[NoticeVersion]):
    class Meta:
        model = NoticeVersion

    purpose = factory.SubFactory(PurposeFactory)
    version = factory.Sequence(lambda n: n + 1)
    text_en = factory.LazyAttribute(lambda n: f"I agree to {n.purpose.key}, version {n.version}.")
    text_nl = factory.LazyAttribute(
        lambda n: f"Ik ga akkoord met {n.purpose.key}, versie {n.version}."
    )


class WebFormFactory(factory.django.DjangoModelFactory[WebForm]):
    class Meta:
        model = WebForm
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Brochure request {n}")
    slug = factory.Sequence(lambda n: f"brochure-{n}")
    lead_fields = factory.LazyFunction(lambda: ["first_name", "last_name", "phone", "company"])
    required_lead_fields = factory.LazyFunction(list)
    thank_you_en = "Thanks, the brochure is on its way."
    thank_you_nl = "Bedankt, de brochure komt eraan."

    @factory.post_generation
    def purposes(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.purposes.set(extracted)

    @factory.post_generation
    def required_purposes(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.required_purposes.set(extracted)
