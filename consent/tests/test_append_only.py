"""Consent records are proof: neither code nor the database lets one be changed or deleted,
except through the one door the legitimate rewrites use."""

import pytest
from django.db import IntegrityError, connection, transaction

from consent.models import ConsentMethod, ConsentRecord
from consent.services import ConsentGiven, move_subject, record_consents, rewriting_consent_records

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger"),
]


@pytest.fixture
def record():
    record_consents(subject_id=7, given=[ConsentGiven("contact", True)], method=ConsentMethod.API)
    return ConsentRecord.objects.get()


def test_the_database_refuses_to_change_or_delete_a_record(record):
    for change in (
        lambda: ConsentRecord.objects.filter(pk=record.pk).update(granted=False),
        lambda: ConsentRecord.objects.filter(pk=record.pk).delete(),
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            change()

    record.refresh_from_db()
    assert record.granted is True


def test_raw_sql_is_refused_too(record):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentrecord")

    assert ConsentRecord.objects.count() == 1


def test_a_merge_moves_the_history_through_the_door_which_closes_after(record):
    assert move_subject(from_subject_id=7, to_subject_id=8) == 1

    assert ConsentRecord.objects.get().subject_id == 8
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.update(subject_id=9)


def test_the_door_closes_when_the_block_fails(record):
    with pytest.raises(RuntimeError), rewriting_consent_records():
        ConsentRecord.objects.update(granted=False)
        raise RuntimeError("half-way")

    assert ConsentRecord.objects.get().granted is True
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.update(granted=False)
