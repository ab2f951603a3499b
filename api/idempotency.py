"""The `Idempotency-Key` header: a retried POST gets the first answer instead of a second write.

A client that lost the answer to a POST (a timeout, a dropped connection) sends the same
request again with the same key. Within IDEMPOTENCY_KEY_LIFETIME it gets the stored answer,
status and body, and nothing is written twice. The same key with another request is refused
with 422.

Concurrent requests with one key: the first inserts the key's row and does the work in the
same transaction; the others' inserts wait on the unique (user, key) index until it commits,
then find its row and replay its answer. So the loser of the race waits (milliseconds: as
long as one capture) and never gets a 409. When the first request fails, its transaction
rolls back with the row, and a waiting request does the work itself.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class IdempotencyKeyReused(ValidationError):
    """The key was used before for a different request: the client has a bug to fix."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def request_fingerprint(request: Request) -> str:
    """SHA-256 of the method, path and parsed body: equal for the same request resent."""
    body = json.dumps(
        request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=JSONEncoder
    )
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def answer_once(*, user, key: str, fingerprint: str, answer: Callable[[], Response]) -> Response:
    """Call `answer()` unless `user` sent `key` before; then return what it answered then.

    `answer` runs inside this function's transaction and must write only through it. An
    answer that is not a success is not remembered (its writes, if any, are rolled back), so
    the client may correct the request and retry with the same key.
    """
    with transaction.atomic():
        stored = _claim(user=user, key=key, fingerprint=fingerprint)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    {HEADER: [_("This key was used for a different request; use a new key.")]}
                )
            return Response(
                stored.response_body,
                status=stored.status_code,
                headers={REPLAYED_HEADER: "true"},
            )
        response = answer()
        if not status.is_success(response.status_code):
            transaction.set_rollback(True)
            return response
        IdempotencyKey.objects.filter(user=user, key=key).update(
            status_code=response.status_code, response_body=response.data
        )
        return response


def _claim(*, user, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Insert the key's row and return None, or return the row another request stored.

    The insert waits while a concurrent transaction holds the same key (see module docs).
    """
    for _attempt in range(2):
        try:
            # A savepoint: a duplicate key must not break the surrounding transaction.
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, status_code=0, response_body={}
                )
            return None
        except IntegrityError:
            stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is not None and not stored.is_expired():
            return stored
        if stored is not None:
            # An expired key is free again: forget the old answer and claim it anew.
            IdempotencyKey.objects.filter(pk=stored.pk).delete()
    raise RuntimeError(f"idempotency key {key!r} could not be claimed")  # pragma: no cover


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    """Make a POST method of an API view honour the Idempotency-Key header."""

    @functools.wraps(method)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return method(view, request, *args, **kwargs)
        if not _VALID_KEY.fullmatch(key):
            raise ValidationError(
                {HEADER: [_("Use 1 to 255 visible ASCII characters, such as a UUID.")]}
            )
        return answer_once(
            user=request.user,
            key=key,
            fingerprint=request_fingerprint(request),
            answer=lambda: method(view, request, *args, **kwargs),
        )

    return wrapper


def purge_expired_keys() -> int:
    """Delete the keys whose answers may no longer be replayed; returns how many."""
    deleted, _by_model = IdempotencyKey.objects.expired().delete()
    return deleted
