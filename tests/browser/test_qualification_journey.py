"""Issue 4's acceptance, as people would do it: an admin adds "visited pricing 3x in 14 days =
+20", previews how many leads become MQL, publishes, watches the progress bar, and the
marketer finds those leads as MQL with that line in their explanation."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from consent.models import ConsentMethod, NoticeVersion, Purpose
from consent.services import ConsentGiven, record_consents
from leads.models import EventType, Lead, Stage
from leads.tests.factories import EventFactory, LeadFactory
from scoring.models import CriterionKind, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

pytestmark = [pytest.mark.browser, pytest.mark.service]


def test_an_admin_publishes_a_pricing_rule_and_the_marketer_sees_its_mqls(
    page: Page, live_server, log_in, admin_user, marketer, celery_worker_process,
    outbox_relay_process, wait_until,
):  # fmt: skip
    active = CriteriaVersionFactory(number=1, status=VersionStatus.PUBLISHED, mql_threshold=30)
    CriterionFactory(
        version=active, kind=CriterionKind.FIT, name="Decision maker", field="is_decision_maker",
        operator="equals", value="true", points=15,
    )  # fmt: skip
    now = timezone.now()
    keen = [
        LeadFactory(first_name=f"Keen{i}", last_name="Buyer", stage=Stage.LEAD,
                    is_decision_maker=True)
        for i in range(3)
    ]  # fmt: skip
    # Profiling is on consent: their behaviour counts because they agreed to it. (A browser
    # test's database is emptied between tests, purposes of the data migration included.)
    profiling = Purpose.objects.get_or_create(
        key="profiling",
        defaults={"name_en": "Profiling", "name_nl": "Profilering", "is_profiling": True},
    )[0]
    NoticeVersion.objects.get_or_create(
        purpose=profiling, version=1, defaults={"text_en": "Score me.", "text_nl": "Scoor mij."}
    )
    for lead in keen:
        record_consents(
            subject_id=lead.pk,
            given=[ConsentGiven("profiling", True)],
            method=ConsentMethod.WEB_FORM,
        )
        for days_ago in (1, 3, 5):
            EventFactory(lead=lead, url="https://example.nl/pricing",
                         occurred_at=now - timedelta(days=days_ago))  # fmt: skip
    LeadFactory(first_name="Casual", last_name="Visitor", stage=Stage.LEAD)

    log_in(admin_user.username)
    page.get_by_role("link", name="Qualification").click()
    page.get_by_role("button", name="Start a draft").click()
    new = page.locator("fieldset", has_text="New criterion")
    new.get_by_label("Kind").select_option(CriterionKind.ENGAGEMENT)
    new.get_by_label("Name").fill("Visited pricing 3x in 14 days")
    new.locator("input[name$='-points']").fill("20")
    new.get_by_label("Event type").select_option(EventType.PAGE_VIEW)
    new.get_by_label("URL contains").fill("/pricing")
    new.get_by_label("At least this many times").fill("3")
    new.get_by_label("Within days").fill("14")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("The draft was saved.")).to_be_visible()

    page.get_by_role("link", name="Preview impact").click()
    moves = page.get_by_role("table").first
    expect(moves).to_contain_text("3 leads")
    expect(moves).to_contain_text("Marketing qualified")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", name="Re-scoring every lead with version 2")).to_be_visible()
    expect(page.get_by_text("Finished on")).to_be_visible(timeout=30_000)

    assert wait_until(lambda: Lead.objects.filter(stage=Stage.MQL).count() == 3, timeout=30)
    page.context.clear_cookies()
    log_in(marketer.username)
    page.goto(f"{live_server.url}/leads/?stage=mql")
    page.get_by_role("link", name="Keen0 Buyer").click()
    expect(page.get_by_text("+20 Visited pricing 3x in 14 days")).to_be_visible()
    expect(page.get_by_text("+15 Decision maker")).to_be_visible()
