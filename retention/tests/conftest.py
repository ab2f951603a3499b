import pytest

from retention.models import RetentionPolicy


@pytest.fixture(autouse=True)
def _no_default_policies(db):
    # The data migration's demo policies would also select the tests' leads.
    RetentionPolicy.objects.all().delete()
