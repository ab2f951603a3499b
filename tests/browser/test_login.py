"""Logging in and out through the real pages, by mouse and by keyboard."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/leadladder-home.png"
# Move keyboard focus to the document itself, where it is on a page without autofocus.
# (Blurring the autofocused field is not enough: Chromium's next Tab starts from that field.)
START_OF_PAGE = """() => {
  const root = document.documentElement;
  root.tabIndex = -1;
  root.focus();
  root.removeAttribute("tabindex");
}"""


@pytest.mark.parametrize(
    ("persona", "name", "panels", "hidden_panels", "sees_users_link"),
    [
        ("marketer", "Alice", ["Leads per stage"], ["My open leads", "Team"], False),
        ("sales_rep", "Bob", ["My open leads"], ["Team"], False),
        # Admins may work the sales queue too (issue 6), so they see their open leads.
        ("admin_user", "Ada", ["Team", "My open leads"], [], True),
    ],
)
def test_a_user_logs_in_sees_the_panels_of_their_role_and_logs_out(
    request, page: Page, live_server, log_in, persona, name, panels, hidden_panels, sees_users_link
):
    user = request.getfixturevalue(persona)

    log_in(user.username)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
    for panel in panels:
        expect(page.get_by_role("heading", name=panel, exact=True)).to_be_visible()
    for panel in hidden_panels:
        expect(page.get_by_role("heading", name=panel, exact=True)).to_have_count(0)
    navigation = page.get_by_role("navigation", name="Main navigation")
    users_link = navigation.get_by_role("link", name="Users", exact=True)
    expect(users_link).to_have_count(1 if sees_users_link else 0)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # The log-out button sits in a Bootstrap dropdown: it only shows once bootstrap's JS runs.
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_hidden()
    navigation.get_by_role("button", name=re.compile(name)).click()
    expect(log_out).to_be_visible()
    log_out.click()

    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in to Leadladder")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_the_login_page_works_with_the_keyboard_alone(page: Page, live_server, sales_rep):
    page.goto(f"{live_server.url}/accounts/login/")
    # Django's login form autofocuses the username, so typing can start at once.
    expect(page.get_by_label("Username")).to_be_focused()

    # From the start of the page, the first Tab stop is the skip link, shown when focused.
    page.evaluate(START_OF_PAGE)
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()
    expect(skip_link).to_be_in_viewport()

    # Following it skips the navigation: the next Tab stops are the form's, in order.
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(sales_rep.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()
    page.keyboard.press("Enter")

    # The browser keeps the skip link's #main across the redirect after logging in.
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/(#main)?$"))
    expect(page.get_by_role("heading", name="My open leads")).to_be_visible()
