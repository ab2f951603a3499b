import io

import pytest
from rest_framework.exceptions import ParseError

from api.exceptions import RequestTooLarge
from api.parsers import MAX_BODY_BYTES, BoundedJSONParser


def parse(raw: bytes):
    return BoundedJSONParser().parse(io.BytesIO(raw), "application/json", {})


def test_a_json_body_is_parsed():
    assert parse(b'{"email": "a@kroon.nl", "n": [1, 2.5]}') == {
        "email": "a@kroon.nl",
        "n": [1, 2.5],
    }


def test_a_body_at_the_limit_is_read_and_one_byte_more_is_refused():
    padding = MAX_BODY_BYTES - len(b'{"a": ""}')
    assert parse(b'{"a": "' + b"x" * padding + b'"}') == {"a": "x" * padding}

    with pytest.raises(RequestTooLarge):
        parse(b'{"a": "' + b"x" * (padding + 1) + b'"}')


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'single': 'quotes'}", b"NaN", b"[Infinity]", b"[" * 50_000, b"\xff\xfe{}"],
    ids=["truncated", "quotes", "nan", "infinity", "deep", "not-utf8"],
)
def test_a_body_that_is_not_json_is_a_parse_error_with_a_message(raw):
    with pytest.raises(ParseError) as error:
        parse(raw)

    assert str(error.value.detail)
