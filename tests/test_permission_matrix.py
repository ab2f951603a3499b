"""Who gets what from every page of Leadladder: one GET per URL pattern and persona.

Every URL pattern of the project has a row in MATRIX. A new view fails
`test_every_url_pattern_is_declared_in_the_matrix` until its row says what each persona gets.
"""

import importlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, include, path, resolve, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.tests.factories import UserFactory
from tests.access import (
    ADMIN_LOGIN,
    FORBIDDEN,
    HOME,
    LOGIN,
    NOT_ALLOWED,
    OK,
    PERSONAS,
    Outcome,
    Redirect,
    Row,
    expect,
)


def _another_user() -> dict:
    return {"pk": UserFactory(username="someone").pk}


def _invitation_link() -> dict:
    invitee = UserFactory(username="invitee")
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(invitee.pk)),
        "token": default_token_generator.make_token(invitee),
    }


# THE MATRIX: every URL name ("namespace:name") -> what a GET gives each persona.
# Adding a view? Add its row here, with a kwargs factory if its URL takes arguments.
# Personas not named after `users=` get that outcome; name the ones that differ.
MATRIX: dict[str, Row] = {
    # Public: logging in and choosing a password.
    "accounts:login": Row(expect(anonymous=OK, users=HOME)),
    "accounts:password-reset": Row(expect(anonymous=OK, users=OK)),
    "accounts:password-reset-sent": Row(expect(anonymous=OK, users=OK)),
    # A valid link swaps its token for a session key and redirects to the form.
    "accounts:password-set": Row(
        expect(
            anonymous=Redirect("accounts:password-set"), users=Redirect("accounts:password-set")
        ),
        kwargs=_invitation_link,
    ),
    "accounts:password-set-done": Row(expect(anonymous=OK, users=OK)),
    # Public plumbing. set_language changes state on POST only; a GET just goes back.
    "set_language": Row(expect(anonymous=HOME, users=HOME)),
    "healthz": Row(expect(anonymous=OK, users=OK)),
    # Every logged-in user.
    "home": Row(expect(anonymous=LOGIN, users=OK)),
    "accounts:logout": Row(expect(anonymous=LOGIN, users=NOT_ALLOWED)),
    "accounts:password-change": Row(expect(anonymous=LOGIN, users=OK)),
    "accounts:password-change-done": Row(expect(anonymous=LOGIN, users=OK)),
    "schema": Row(expect(anonymous=LOGIN, users=OK)),
    "api-docs": Row(expect(anonymous=LOGIN, users=OK)),
    # Managing users: admins only (accounts.manage_users).
    "accounts:users": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)),
    "accounts:user-create": Row(expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK)),
    "accounts:user-edit": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=OK), kwargs=_another_user
    ),
    "accounts:user-invite": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, admin_user=NOT_ALLOWED), kwargs=_another_user
    ),
    # Django's admin is for staff, and none of the personas is staff. Its views name their own
    # login page, which LoginRequiredMiddleware honours for anonymous visitors too.
    "admin:index": Row(expect(anonymous=ADMIN_LOGIN, users=ADMIN_LOGIN)),
}


def _app_rows() -> dict[str, Row]:
    """Rows each of our apps declares in its own `tests/url_access.py`."""
    rows: dict[str, Row] = {}
    for app_config in django_apps.get_app_configs():
        if not Path(app_config.path).is_relative_to(settings.BASE_DIR):
            continue
        try:
            module = importlib.import_module(f"{app_config.name}.tests.url_access")
        except ModuleNotFoundError:
            continue
        clash = set(rows) & set(module.ROWS) | set(MATRIX) & set(module.ROWS)
        assert not clash, f"{app_config.name} declares rows twice: {clash}"
        rows |= module.ROWS
    return rows


MATRIX |= _app_rows()

# Cells where the project does not yet do what MATRIX says, with what has to change. Strict:
# once fixed, the test passes unexpectedly and fails, so remove the entry then.
KNOWN_GAPS: dict[tuple[str, str], str] = {}

# Namespaces whose pages all share one access rule: only the URL named here is requested and
# their other patterns need no row.
WHOLE_NAMESPACES = {"admin": "admin:index"}


def _patterns(
    patterns: list, namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], URLPattern]]:
    """Every URL pattern under `patterns`, with the namespaces it sits in."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _patterns(pattern.url_patterns, inner)
        else:
            yield namespaces, pattern


def _undeclared(patterns: list) -> list[str]:
    undeclared = []
    for namespaces, pattern in _patterns(patterns):
        if namespaces and namespaces[0] in WHOLE_NAMESPACES:
            continue
        if pattern.name is None:
            undeclared.append(f"unnamed pattern {str(pattern.pattern)!r}: give it a name")
            continue
        name = ":".join((*namespaces, pattern.name))
        if name not in MATRIX:
            undeclared.append(name)
    return undeclared


def _outcome(response: HttpResponse) -> Outcome:
    if response.status_code in (301, 302, 303, 307, 308):
        return Redirect(resolve(urlsplit(response.url).path).view_name)
    return response.status_code


def test_every_url_pattern_is_declared_in_the_matrix():
    undeclared = _undeclared(get_resolver().url_patterns)

    assert not undeclared, f"Say in MATRIX who may see these pages: {undeclared}"


def test_the_check_for_undeclared_patterns_finds_them_in_nested_namespaces():
    def view(request):
        return HttpResponse()

    nested = ([path("deep/", view, name="deep")], "inner")
    patterns = [
        path("", view, name="home"),
        path("new/", view, name="brand-new"),
        path("app/", include(([path("", include(nested)), path("x", view)], "outer"))),
    ]

    assert _undeclared(patterns) == [
        "brand-new",
        "outer:inner:deep",
        "unnamed pattern 'x': give it a name",
    ]


def test_every_row_of_the_matrix_is_a_url_pattern_of_the_project():
    names = {
        ":".join((*namespaces, pattern.name))
        for namespaces, pattern in _patterns(get_resolver().url_patterns)
        if pattern.name
    }

    assert set(MATRIX) - names == set()
    assert set(WHOLE_NAMESPACES.values()) <= set(MATRIX)


def test_every_row_of_the_matrix_names_every_persona():
    for name, row in MATRIX.items():
        assert tuple(row.expected) == PERSONAS, name


def test_every_known_gap_is_a_cell_of_the_matrix():
    for url_name, persona in KNOWN_GAPS:
        assert persona in MATRIX[url_name].expected


def _cells() -> list:
    cells = []
    for url_name in sorted(MATRIX):
        for persona in PERSONAS:
            gap = KNOWN_GAPS.get((url_name, persona))
            marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
            cells.append(pytest.param(url_name, persona, marks=marks, id=f"{url_name}-{persona}"))
    return cells


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "persona"), _cells())
def test_persona_gets_what_the_matrix_says(client, request, url_name, persona):
    row = MATRIX[url_name]
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    url = reverse(url_name, kwargs=row.kwargs())

    response = client.get(url)

    assert _outcome(response) == row.expected[persona]
    if _outcome(response) in (LOGIN, ADMIN_LOGIN):
        # After logging in, the visitor comes back to the page they asked for.
        assert parse_qs(urlsplit(response.url).query)["next"] == [url]
