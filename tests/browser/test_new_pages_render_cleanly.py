"""Every page of the privacy, sales and funnel work, opened in Chromium by someone allowed to
see it: no console error, no Content-Security-Policy violation, no failed request (the
browser_problems fixture fails the test on any), and the page says what it is."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from consent.links import preferences_token, withdrawal_token
from consent.models import Purpose
from leads.models import Stage
from leads.tests.factories import LeadFactory
from retention.models import RetentionPolicy

pytestmark = pytest.mark.browser

ADMIN_PAGES = [
    ("consent:purposes", {}),
    ("consent:purpose-create", {}),
    ("consent:processing", {}),
    ("retention:policies", {}),
    ("retention:policy-create", {}),
    ("retention:dry-run", {}),
    ("privacy:requests", {}),
    ("sales:rules", {}),
    ("sales:rule-create", {}),
    ("sales:teams", {}),
    ("sales:team-create", {}),
    ("sales:breaches", {}),
    ("leads:queue", {}),
    ("leads:my-leads", {}),
    ("funnel:pipeline", {}),
    ("funnel:dashboard", {}),
    ("funnel:quota", {}),
    ("quota:targets", {}),
    ("quota:settings", {}),
]


def test_every_new_page_renders_cleanly_for_an_admin(page: Page, live_server, log_in, admin_user):
    lead = LeadFactory(first_name="Clean", last_name="Page", stage=Stage.MQL)
    purpose = Purpose.objects.get_or_create(
        key="contact", defaults={"name_en": "Contact", "name_nl": "Contact"}
    )[0]
    policy = RetentionPolicy.objects.first()
    pages = [
        *ADMIN_PAGES,
        ("consent:purpose-edit", {"pk": purpose.pk}),
        ("consent:purpose-notices", {"pk": purpose.pk}),
        ("privacy:erase", {"pk": lead.pk}),
        ("leads:detail", {"pk": lead.pk}),
    ]
    if policy is not None:
        pages.append(("retention:policy-edit", {"pk": policy.pk}))
    log_in(admin_user.username)

    for name, kwargs in pages:
        page.goto(f"{live_server.url}{reverse(name, kwargs=kwargs)}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        # htmx sections that load after the page must load cleanly too.
        page.wait_for_load_state("networkidle")


def test_the_pages_a_lead_reaches_by_link_render_cleanly(page: Page, live_server):
    lead = LeadFactory(first_name="Link", last_name="Reader")

    for path in (
        reverse("consent_public:preferences", args=[preferences_token(lead.pk)]),
        reverse("consent_public:withdraw", args=[withdrawal_token(lead.pk)]),
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
