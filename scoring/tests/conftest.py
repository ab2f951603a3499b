import pytest

from consent.models import LegalBasis, Purpose


@pytest.fixture(autouse=True)
def profiling_on_legitimate_interest(db):
    """The scoring tests read every lead's behaviour, as they would where profiling rests on
    legitimate interest. The consent gate on profiling has its own tests
    (test_profiling_consent.py), which switch this back."""
    Purpose.objects.filter(is_profiling=True).update(legal_basis=LegalBasis.LEGITIMATE_INTEREST)
