import factory

from scoring.models import CriteriaVersion, Criterion, CriterionKind, VersionStatus


class CriteriaVersionFactory(factory.django.DjangoModelFactory[CriteriaVersion]):
    class Meta:
        model = CriteriaVersion

    number = factory.Sequence(lambda n: n + 1)
    status = VersionStatus.DRAFT


class CriterionFactory(factory.django.DjangoModelFactory[Criterion]):
    class Meta:
        model = Criterion

    version = factory.SubFactory(CriteriaVersionFactory)
    position = factory.Sequence(lambda n: n)
    kind = CriterionKind.FIT
    name = factory.Sequence(lambda n: f"Criterion {n}")
    points = 10
