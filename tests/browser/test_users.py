"""An admin manages users in the browser."""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.roles import Role

pytestmark = pytest.mark.browser


def test_an_admin_creates_a_user_with_a_role(page: Page, live_server, log_in, admin_user):
    log_in(admin_user.username)

    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Users", exact=True
    ).click()
    page.get_by_role("link", name="New user").click()
    expect(page.get_by_role("heading", name="New user", level=1)).to_be_visible()
    page.get_by_label("Username").fill("bert")
    page.get_by_label("E-mail address").fill("Bert@Example.nl")
    page.get_by_label("First name").fill("Bert")
    page.get_by_label("Last name").fill("Visser")
    page.get_by_label("Sales rep").check()
    page.get_by_role("button", name="Create and send invitation").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/users/")
    expect(page.get_by_role("alert")).to_contain_text(
        "bert was created and an invitation is on its way."
    )
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="bert", exact=True))
    expect(row).to_contain_text("Bert Visser")
    expect(row).to_contain_text("bert@example.nl")
    expect(row).to_contain_text("Sales rep")
    bert = User.objects.get(username="bert")
    assert bert.roles == [Role.SALES_REP]
    assert not bert.has_usable_password()
