"""answer_once: the work behind an Idempotency-Key is done once, and only success is kept."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.response import Response

from api.idempotency import IdempotencyKeyReused, answer_once, purge_expired_keys
from api.models import IdempotencyKey

pytestmark = pytest.mark.django_db


class Work:
    """Counts how often it was asked to answer."""

    def __init__(self, response: Response):
        self.response = response
        self.calls = 0

    def __call__(self) -> Response:
        self.calls += 1
        return self.response


def test_a_second_call_with_the_key_replays_the_first_answer(marketer):
    work = Work(Response({"id": 7}, status=201))

    first = answer_once(user=marketer, key="k", fingerprint="f", answer=work)
    second = answer_once(user=marketer, key="k", fingerprint="f", answer=work)

    assert work.calls == 1
    assert (first.status_code, first.data) == (second.status_code, second.data) == (201, {"id": 7})
    assert second.headers["Idempotent-Replayed"] == "true"


def test_the_key_with_another_fingerprint_is_refused(marketer):
    answer_once(user=marketer, key="k", fingerprint="f", answer=Work(Response({}, status=200)))

    with pytest.raises(IdempotencyKeyReused):
        answer_once(user=marketer, key="k", fingerprint="g", answer=Work(Response({})))


def test_an_error_answer_is_not_kept(marketer):
    answer_once(user=marketer, key="k", fingerprint="f", answer=Work(Response({}, status=400)))

    assert not IdempotencyKey.objects.exists()


def test_work_that_fails_leaves_the_key_free(marketer):
    def broken() -> Response:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        answer_once(user=marketer, key="k", fingerprint="f", answer=broken)

    assert not IdempotencyKey.objects.exists()


def test_purging_deletes_only_keys_older_than_a_day(marketer, sales_rep):
    for user in (marketer, sales_rep):
        answer_once(user=user, key="k", fingerprint="f", answer=Work(Response({}, status=201)))
    IdempotencyKey.objects.filter(user=marketer).update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    assert purge_expired_keys() == 1
    assert list(IdempotencyKey.objects.values_list("user", flat=True)) == [sales_rep.pk]
