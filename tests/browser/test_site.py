"""The site as a browser meets it: its own assets, its languages, a phone-sized screen."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_visitor_switches_the_language_to_dutch_and_it_stays_dutch(page: Page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="Nederlands").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("button", name="Nederlands")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "nl")


def test_every_asset_comes_from_the_app_itself(page: Page, live_server, log_in, marketer):
    # browser_problems already fails the test on any request to another host.
    responses = {}
    page.on("response", lambda response: responses.setdefault(response.url, response.status))
    server = urlsplit(live_server.url).netloc

    log_in(marketer.username)

    statics = {urlsplit(url).path: status for url, status in responses.items()}
    assert statics["/static/bootstrap/css/bootstrap.min.css"] == 200
    assert statics["/static/bootstrap/js/bootstrap.bundle.min.js"] == 200
    assert statics["/static/django_htmx/htmx-2.min.js"] == 200
    assert statics["/static/css/leadladder.css"] == 200
    assert {urlsplit(url).netloc for url in responses if not url.startswith("data:")} == {server}
    # Loaded is not enough: both libraries ran despite the strict Content-Security-Policy.
    assert page.evaluate("typeof window.bootstrap.Dropdown") == "function"
    assert page.evaluate("typeof window.htmx.ajax") == "function"


def test_on_a_phone_the_pages_fit_and_the_menu_opens_from_the_toggler(
    page: Page, live_server, log_in, admin_user
):
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    log_in(admin_user.username)

    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    users_link = page.get_by_role("link", name="Users", exact=True)
    expect(users_link).to_be_hidden()
    toggler = page.get_by_role("button", name="Toggle navigation")
    expect(toggler).to_have_attribute("aria-expanded", "false")
    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(users_link).to_be_visible()
    users_link.click()
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
