"""Keyset pages: a cursor holds the whole sort key, so ties never repeat or skip rows."""

from datetime import UTC, datetime

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.pagination import Cursor, InvalidCursor, KeysetCursorPagination
from leads.models import Lead
from leads.tests.factories import LeadFactory


def test_a_cursor_survives_its_trip_through_a_url():
    moment = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    cursor = Cursor(ordering="-created_at", value=moment, id=42, backwards=True)

    assert Cursor.decode(cursor.encode(), model=Lead) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "garbage!",
        Cursor(ordering="-score", value=1, id=0).encode(),
        Cursor(ordering="-score", value="high", id=1).encode(),
        Cursor(ordering="-password", value=1, id=1).encode(),
        Cursor(ordering="-created_at", value="yesterday", id=1).encode(),
        Cursor(ordering="-score", value=None, id=1).encode(),
    ],
)
def test_a_cursor_we_did_not_write_is_invalid(text):
    with pytest.raises(InvalidCursor):
        Cursor.decode(text, model=Lead)


@pytest.mark.django_db
def test_pages_walk_forward_and_back_over_equal_values():
    leads = [LeadFactory(score=score) for score in [3, 3, 3, 3, 3, 2, 2, 9]]
    order = sorted(leads, key=lambda lead: (-lead.score, -lead.pk))
    request = APIRequestFactory().get("/api/v1/leads/")

    def page(cursor=None):
        paginator = KeysetCursorPagination()
        rows = paginator.paginate(
            Lead.objects.all(), Request(request), ordering="-score", cursor=cursor, page_size=3
        )
        return rows, paginator

    first, paginator = page()
    second, paginator2 = page(paginator.next_cursor.encode())
    third, paginator3 = page(paginator2.next_cursor.encode())
    back, _ = page(paginator3.previous_cursor.encode())

    assert first + second + third == order
    assert paginator3.next_cursor is None
    assert back == second


@pytest.mark.django_db
def test_drf_generic_views_get_their_page_from_the_query_string():
    for score in range(4):
        LeadFactory(score=score)
    request = Request(APIRequestFactory().get("/x/", {"page_size": 2}))
    paginator = KeysetCursorPagination()

    rows = paginator.paginate_queryset(Lead.objects.all(), request)
    response = paginator.get_paginated_response([row.pk for row in rows])

    assert len(rows) == 2 and response.data["next"] and response.data["previous"] is None
    with pytest.raises(ValidationError):
        paginator.paginate_queryset(
            Lead.objects.all(), Request(APIRequestFactory().get("/x/", {"page_size": "x"}))
        )
