"""Database helpers the hot paths share."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.backends.utils import CursorWrapper


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL prepares once per connection.

    Django binds parameters on the client by default, so every run of a statement is new
    text to plan. With server-side binding psycopg prepares a statement after a few runs
    (`prepare_threshold`); capture runs the same few statements on every request, and their
    planning and quoting cost more than their execution. Only PostgreSQL; other databases
    get a normal cursor.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from django.db.backends.postgresql.base import ServerBindingCursor

            cursor.cursor.close()
            cursor.cursor = ServerBindingCursor(connection.connection)
        yield cursor
