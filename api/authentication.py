"""Token authentication that also reads what the token's user may do, in the same query.

An API client sends one request per call, so nothing fetched for a request is reused by the
next: DRF's TokenAuthentication reads the token and its user, and the permission check then
asks the database again. Reading the user's permission names alongside the token saves that
round trip on every token-authenticated request (see HasRolePermission). The query is written
out once rather than built by the ORM per request: building it cost more than running it.

An integration calls with the same token many times a second, so each process also keeps
what it read for API_TOKEN_CACHE_SECONDS (a few seconds; 0 turns it off). Any change to
tokens, users, groups or permissions made in this process empties the cache at once (see
`forget_tokens`); other processes see it within those seconds, as an API gateway's
authorizer cache would.
"""

import functools
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authentication import TokenAuthentication

from config.db import prepared_cursor

# The permissions a user holds through its groups or directly, as "app_label.codename": the
# set ModelBackend.get_all_permissions gives (a test holds them equal).
_TOKEN_WITH_PERMISSIONS_SQL = """
SELECT {user_columns},
    ARRAY(
        SELECT content_type.app_label || '.' || permission.codename
        FROM auth_permission permission
        JOIN django_content_type content_type ON content_type.id = permission.content_type_id
        WHERE permission.id IN (
            SELECT granted.permission_id FROM auth_group_permissions granted
            JOIN {user_groups} membership ON membership.group_id = granted.group_id
            WHERE membership.user_id = token.user_id
            UNION
            SELECT own.permission_id FROM {user_permissions} own
            WHERE own.user_id = token.user_id
        )
    )
FROM authtoken_token token JOIN {users} account ON account.id = token.user_id
WHERE token.key = %s
"""


@functools.cache
def _token_query() -> tuple[str, list[str]]:
    user = get_user_model()
    fields = user._meta.concrete_fields
    sql = _TOKEN_WITH_PERMISSIONS_SQL.format(
        user_columns=", ".join(f"account.{connection.ops.quote_name(f.column)}" for f in fields),
        users=user._meta.db_table,
        user_groups=user.groups.through._meta.db_table,
        user_permissions=user.user_permissions.through._meta.db_table,
    )
    return sql, [f.attname for f in fields]


@dataclass(frozen=True)
class _TokenRead:
    values: tuple
    permission_names: frozenset[str]
    read_at: float


_recent: dict[str, _TokenRead] = {}
_recent_lock = threading.Lock()
_MAX_RECENT = 1000


def forget_tokens(**_signal_arguments) -> None:
    """Empty this process's cache of token checks (connected to the signals in apps.py)."""
    with _recent_lock:
        _recent.clear()


class RoleTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, with the user's permissions read at once.

    The user gets `api_permissions`, the set of "app_label.codename" it holds through its
    groups or directly. On PostgreSQL (the array); elsewhere the permission check asks the
    database itself.
    """

    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        sql, attnames = _token_query()
        read = _recent.get(key)
        max_age = settings.API_TOKEN_CACHE_SECONDS
        if read is None or time.monotonic() - read.read_at >= max_age:
            read = self._read(key, sql, attnames)
            if read is None:
                # Refused: DRF says why, in its own words and translations.
                return super().authenticate_credentials(key)
            if max_age:
                with _recent_lock:
                    if len(_recent) >= _MAX_RECENT:
                        _recent.clear()
                    _recent[key] = read
        # A new User per request: nothing one request sets on it reaches the next.
        user = get_user_model().from_db(connection.alias, attnames, list(read.values))
        user.api_permissions = read.permission_names
        return user, self.get_model()(key=key, user=user)

    def _read(self, key: str, sql: str, attnames: list[str]) -> _TokenRead | None:
        with prepared_cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None or not row[attnames.index("is_active")]:
            return None
        *values, permission_names = row
        return _TokenRead(tuple(values), frozenset(permission_names), time.monotonic())
