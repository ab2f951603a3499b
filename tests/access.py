"""The vocabulary of the permission matrix, shared with each app's `tests/url_access.py`.

An app declares what every persona gets from its URLs in `<app>/tests/url_access.py` as
`ROWS: dict[str, Row]`; `tests/test_permission_matrix.py` collects them all.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PERSONAS = ("anonymous", "marketer", "sales_rep", "sales_manager", "admin_user", "no_role_user")


@dataclass(frozen=True)
class Redirect:
    """A redirect to the page with this URL name."""

    to: str


# An outcome is a status code or a redirect.
Outcome = int | Redirect
OK, FORBIDDEN, NOT_ALLOWED = 200, 403, 405
LOGIN = Redirect("accounts:login")
ADMIN_LOGIN = Redirect("admin:login")
HOME = Redirect("home")


def expect(*, anonymous: Outcome, users: Outcome, **exceptions: Outcome) -> dict[str, Outcome]:
    """What `anonymous` gets, what every logged-in persona gets, and the personas that differ."""
    unknown = set(exceptions) - set(PERSONAS)
    assert not unknown, f"not personas: {unknown}"
    return {"anonymous": anonymous} | dict.fromkeys(PERSONAS[1:], users) | exceptions


@dataclass(frozen=True)
class Row:
    expected: dict[str, Outcome]
    # Builds the URL's kwargs, creating whatever rows they point at.
    kwargs: Callable[[], dict] = field(default=dict)
