"""The lead list and a lead's page in a real browser: htmx under the strict CSP, and without it."""

import pytest
from playwright.sync_api import Page, expect

from leads.filters import PAGE_SIZE
from leads.models import Lead, Stage
from leads.tests.factories import EventFactory, LeadFactory

pytestmark = pytest.mark.browser


def test_ticking_a_stage_swaps_the_results_and_puts_the_filter_in_the_address(
    page: Page, live_server, log_in, marketer
):
    LeadFactory(first_name="Mila", last_name="Mql", stage=Stage.MQL, score=70)
    LeadFactory(first_name="Cas", last_name="Contact", stage=Stage.CONTACT, score=90)
    log_in(marketer.username)
    page.get_by_role("link", name="Leads", exact=True).click()
    results = page.locator("#lead-results")
    expect(results.get_by_role("link", name="Cas Contact")).to_be_visible()

    page.get_by_label("Marketing qualified").check()

    expect(results.get_by_role("link", name="Cas Contact")).to_be_hidden()
    expect(results.get_by_role("link", name="Mila Mql")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/leads/?stage=mql&sort=score")
    # Only the results were swapped: the filter form kept its state.
    expect(page.get_by_label("Marketing qualified")).to_be_checked()


def test_searching_and_paging_work_with_htmx(page: Page, live_server, log_in, marketer):
    Lead.objects.bulk_create(
        Lead(email=f"sanne{index}@example.nl", first_name="Sanne", score=index)
        for index in range(PAGE_SIZE + 5)
    )
    LeadFactory(first_name="Daan", email="daan@example.nl", score=100)
    log_in(marketer.username)
    page.goto(f"{live_server.url}/leads/")

    page.get_by_label("Search").fill("sann")

    results = page.locator("#lead-results")
    expect(results.get_by_text("daan@example.nl")).to_be_hidden()
    expect(results.locator("tbody tr")).to_have_count(PAGE_SIZE)
    results.get_by_role("link", name="Next").click()
    expect(results.locator("tbody tr")).to_have_count(5)
    expect(results.get_by_text("sanne0@example.nl")).to_be_visible()
    results.get_by_role("link", name="Previous").click()
    expect(results.get_by_text(f"sanne{PAGE_SIZE + 4}@example.nl")).to_be_visible()


def test_older_events_are_added_to_the_timeline(page: Page, live_server, log_in, sales_rep):
    lead = LeadFactory()
    EventFactory.create_batch(25, lead=lead)
    log_in(sales_rep.username)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".timeline-item")).to_have_count(20)

    timeline.get_by_role("link", name="Older events").click()

    expect(timeline.locator(".timeline-item")).to_have_count(25)
    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")


def test_without_javascript_the_filters_and_pages_still_work(
    browser, live_server, marketer, browser_problems
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    LeadFactory(first_name="Mila", last_name="Mql", stage=Stage.MQL)
    LeadFactory(first_name="Cas", last_name="Contact", stage=Stage.CONTACT)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(marketer.username)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/leads/")

    page.get_by_label("Marketing qualified").check()
    page.get_by_role("button", name="Show leads").click()

    expect(page.get_by_role("link", name="Mila Mql")).to_be_visible()
    expect(page.get_by_role("link", name="Cas Contact")).to_be_hidden()
    context.close()
