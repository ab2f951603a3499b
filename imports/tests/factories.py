import factory

from accounts.tests.factories import UserFactory
from imports.models import ImportJob, ImportStatus


class ImportJobFactory(factory.django.DjangoModelFactory[ImportJob]):
    """An import as it stands after upload, without a stored file."""

    class Meta:
        model = ImportJob

    file_name = "beurs.csv"
    delimiter = ";"
    headers = factory.LazyFunction(lambda: ["E-mailadres", "Voornaam"])
    status = ImportStatus.UPLOADED
    total_rows = 2
    created_by = factory.SubFactory(UserFactory, username="importer")
