"""Issue 3's acceptance, as people would do it: a visitor fills a hosted form on a phone and
the marketer finds the lead moments later."""

import pytest
from playwright.sync_api import Page, expect

from consent.models import ConsentRecord, NoticeVersion, Purpose
from leads.models import Event, EventType, Lead
from webforms.tests.factories import WebFormFactory

pytestmark = pytest.mark.browser


def test_a_visitor_fills_a_form_on_a_phone_and_the_marketer_finds_the_lead(
    page: Page, live_server, log_in, marketer, settings
):
    # A person needs seconds to fill in a form; this test does not wait for the bot check.
    settings.WEBFORMS_MIN_FILL_SECONDS = 0
    contact = Purpose.objects.get_or_create(
        key="contact", defaults={"name_en": "Contact", "name_nl": "Contact"}
    )[0]
    notice = NoticeVersion.objects.get_or_create(
        purpose=contact,
        version=1,
        defaults={"text_en": "You may contact me about my request.", "text_nl": "Neem contact op."},
    )[0]
    WebFormFactory(
        slug="whitepaper",
        lead_fields=["first_name", "last_name", "phone", "company"],
        purposes=[contact],
        required_purposes=[contact],
    )
    page.set_viewport_size({"width": 375, "height": 812})

    page.goto(f"{live_server.url}/f/whitepaper/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_label("E-mail address").fill("Sanne.de.Vries@Kroon.nl")
    page.get_by_label("First name").fill("Sanne")
    page.get_by_label("Last name").fill("de Vries")
    page.get_by_label("Phone").fill("06 12345678")
    page.get_by_label("Company").fill("Kroon B.V.")
    page.get_by_label(notice.text_en).check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks, the brochure is on its way.")).to_be_visible()

    lead = Lead.objects.get()
    assert (lead.email, lead.phone) == ("sanne.de.vries@kroon.nl", "+31612345678")
    assert Event.objects.get(lead=lead).type == EventType.FORM_SUBMISSION
    assert ConsentRecord.objects.get(subject_id=lead.pk).notice == notice

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(marketer.username)
    page.goto(f"{live_server.url}/leads/?q=sanne")
    page.get_by_role("link", name="Sanne de Vries").click()
    expect(page.get_by_role("heading", name="Sanne de Vries")).to_be_visible()
    expect(page.get_by_text("Kroon B.V.").first).to_be_visible()
