"""Keyset ("cursor") pages for lists too long to count or to skip through.

DRF's CursorPagination keys its cursor on the first ordering column only and steps over ties
with an OFFSET, capped at 1,000 rows: on a column with many equal values, such as a score,
deep pages get slow and then skip rows. Here a cursor holds the whole key, the column's
value and the id, and a page is one range scan of an index on (column, id) from there:
`WHERE (score, id) < (%s, %s) ORDER BY score DESC, id DESC LIMIT n + 1`. No COUNT(*) either.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import F, Model, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.utils.urls import replace_query_param

INVALID_CURSOR = _("This cursor is not one of this list's pages; start again without it.")


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the ordering, and the key of the row just before the page
    (or, going backwards, just after it)."""

    ordering: str
    value: Any
    id: int
    backwards: bool = False

    def encode(self) -> str:
        data = [self.ordering, int(self.backwards), self.value, self.id]
        raw = json.dumps(data, cls=JSONEncoder, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, model: type[Model]) -> Cursor:
        """Read a cursor from a query string; anything we did not write raises InvalidCursor."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            ordering, backwards, value, pk = json.loads(raw)
            column = model._meta.get_field(ordering.lstrip("-"))
            value = column.to_python(value)
        except (
            ValueError, TypeError, AttributeError, binascii.Error, FieldDoesNotExist,
            DjangoValidationError,
        ) as error:  # fmt: skip
            raise InvalidCursor(text) from error
        if type(pk) is not int or not 0 < pk < 2**63 or backwards not in (0, 1) or value is None:
            raise InvalidCursor(text)
        return cls(ordering=ordering, value=value, id=pk, backwards=bool(backwards))


class KeysetCursorPagination(BasePagination):
    """Pages in one of a few fixed orderings, each a column and `id` in the same direction.

    A view names its orderings in `keyset_orderings`, the default first; each needs an index
    on (column, id) in that direction and a column without NULLs.
    """

    page_size = api_settings.PAGE_SIZE or 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    orderings: tuple[str, ...] = ("-id",)

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        """DRF's entry point, for generic views: reads and checks the query string itself."""
        orderings = getattr(view, "keyset_orderings", self.orderings)
        params = request.query_params
        errors: dict[str, list] = {}
        ordering = params.get(self.ordering_query_param) or orderings[0]
        if ordering not in orderings:
            errors[self.ordering_query_param] = [
                _("Order by one of: %(orderings)s.") % {"orderings": ", ".join(orderings)}
            ]
        page_size = self.page_size
        if params.get(self.page_size_query_param):
            try:
                page_size = int(params[self.page_size_query_param])
            except ValueError:
                page_size = 0
            if not 1 <= page_size <= self.max_page_size:
                errors[self.page_size_query_param] = [
                    _("Give a page size from 1 to %(max)s.") % {"max": self.max_page_size}
                ]
        if errors:
            raise ValidationError(errors)
        return self.paginate(
            queryset,
            request,
            ordering=ordering,
            cursor=params.get(self.cursor_query_param) or None,
            page_size=page_size,
        )

    def paginate(
        self,
        queryset: QuerySet,
        request,
        *,
        ordering: str,
        cursor: str | None = None,
        page_size: int | None = None,
        split_by: tuple[str, list] | None = None,
    ) -> list:
        """One page of `queryset` in `ordering`, after (or before) the row `cursor` names.

        `split_by=(field, values)` says the queryset is filtered on `field IN values`: the
        rows are then read one index range per value and merged (see `_rows`).

        Reads page_size + 1 rows: the extra one only tells whether another page follows.
        Raises ValidationError for a cursor of another list or ordering.
        """
        self.request = request
        self.page_size = page_size or self.page_size
        self.ordering = ordering
        self.split_by = split_by if split_by and len(split_by[1]) > 1 else None
        position = None
        if cursor is not None:
            try:
                position = Cursor.decode(cursor, model=queryset.model)
            except InvalidCursor:
                position = None
            if position is None or position.ordering != ordering:
                raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})

        if position is not None and position.backwards:
            rows = self._rows(queryset, position, backwards=True)
            if len(rows) <= self.page_size:
                # Back at the start: show a full first page, even if rows came and went.
                return self.paginate(
                    queryset, request, ordering=ordering, page_size=page_size, split_by=split_by
                )
            self.page = rows[: self.page_size][::-1]
            self.next_cursor = self._cursor_at(self.page[-1])
            self.previous_cursor = self._cursor_at(self.page[0], backwards=True)
            return self.page

        rows = self._rows(queryset, position, backwards=False)
        self.page = rows[: self.page_size]
        more = len(rows) > self.page_size
        self.next_cursor = self._cursor_at(self.page[-1]) if more else None
        self.previous_cursor = (
            self._cursor_at(self.page[0], backwards=True) if position and self.page else None
        )
        return self.page

    def _rows(self, queryset: QuerySet, position: Cursor | None, *, backwards: bool) -> list:
        column = self.ordering.lstrip("-")
        descending = self.ordering.startswith("-") != backwards
        keys = [F(column), F("pk")] if column not in ("id", "pk") else [F("pk")]
        queryset = queryset.order_by(*(key.desc() if descending else key.asc() for key in keys))
        if position is not None:
            after = TupleLessThan if descending else TupleGreaterThan
            if len(keys) == 1:
                queryset = queryset.filter(after(Tuple(*keys), (position.id,)))
            else:
                queryset = queryset.filter(after(Tuple(*keys), (position.value, position.id)))
        count = self.page_size + 1
        if self.split_by is None or not connection.features.supports_slicing_ordering_in_compound:
            return list(queryset[:count])
        # `field IN (a, b)` ordered by score cannot use the (field, score, id) index: the
        # database walks the score index and skips every other row, seconds at a million
        # leads. One range per value, merged with UNION ALL, reads only what it returns.
        field, values = self.split_by
        ordering = queryset.query.order_by
        parts = [
            queryset.filter(**{field: value}).values_list("pk", flat=True)[:count]
            for value in values
        ]
        ids = list(
            queryset.model._base_manager.filter(pk__in=parts[0].union(*parts[1:], all=True))
            .order_by(*ordering)
            .values_list("pk", flat=True)[:count]
        )
        by_id = queryset.model._base_manager.in_bulk(ids)
        return [by_id[pk] for pk in ids]

    def _cursor_at(self, row: Model, *, backwards: bool = False) -> Cursor:
        value = getattr(row, self.ordering.lstrip("-"))
        return Cursor(ordering=self.ordering, value=value, id=row.pk, backwards=backwards)

    def _link(self, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor.encode())

    def get_next_link(self) -> str | None:
        return self._link(self.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_cursor)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        orderings = list(getattr(view, "keyset_orderings", self.orderings))
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(_("The cursor from a `next` or `previous` link.")),
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Rows per page.")),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": str(_("The order of the rows.")),
                "schema": {"type": "string", "enum": orderings, "default": orderings[0]},
            },
        ]
