import factory
from django.apps import apps as django_apps
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import sync_role_permissions


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@leadladder.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            if Group.objects.filter(name__in=extracted).count() < len(set(extracted)):
                # A transactional test's flush empties the tables the data migration filled.
                sync_role_permissions(django_apps)
            self.groups.set(Group.objects.filter(name__in=extracted))
