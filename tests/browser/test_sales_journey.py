"""Issue 6's acceptance, as people would do it: a rep sees the hottest MQL on top, accepts it
with BANT in under a minute; the manager's dashboard shows one more SQL and the SLA met; the
quota calculator says how many MQLs next quarter needs from this year's rates."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from leads.models import Stage
from leads.tests.factories import LeadFactory, lead_at
from scoring.models import StageTransition

pytestmark = pytest.mark.browser


def history(lead, *stages, start) -> None:
    """The lead went through these stages, a week apart from `start`."""
    before = Stage.CONTACT
    for number, stage in enumerate(stages):
        moved = StageTransition.objects.create(
            lead=lead, from_stage=before, to_stage=stage, score=lead.score
        )
        # occurred_at is set on creation; the history is older.
        StageTransition.objects.filter(pk=moved.pk).update(
            occurred_at=start + timedelta(days=7 * number)
        )
        before = stage


def test_a_rep_accepts_the_hottest_mql_and_the_manager_and_the_quota_see_it(
    page: Page, live_server, log_in, sales_rep, sales_manager
):
    now = timezone.now()
    # This year's funnel: 10 leads, 4 MQLs, 2 SQLs, 1 opportunity, 1 won.
    for number in range(10):
        lead = lead_at(email=f"past{number}@bouw.nl", created_at=now - timedelta(days=200))
        path = [Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON]
        reached = 5 if number == 0 else 3 if number == 1 else 2 if number < 4 else 1
        history(lead, *path[:reached], start=now - timedelta(days=190))
        lead.stage = path[reached - 1]
        lead.save()
    waiting = {}
    for name, score in [("Warm", 40), ("Hottest", 90), ("Lukewarm", 55)]:
        lead = LeadFactory(first_name=name, last_name="Prospect", stage=Stage.MQL, score=score)
        history(lead, Stage.LEAD, Stage.MQL, start=now - timedelta(days=14))
        waiting[name] = lead

    log_in(sales_rep.username)
    started = time.monotonic()
    page.get_by_role("button", name="Sales", exact=True).click()
    page.get_by_role("link", name="Hand-over queue").click()
    first_row = page.locator("tbody tr").first
    expect(first_row).to_contain_text("Hottest Prospect")
    first_row.get_by_role("button", name="Claim").click()
    expect(page.get_by_text("Hottest Prospect").first).to_be_visible()
    page.goto(f"{live_server.url}/leads/{waiting['Hottest'].pk}/")
    page.get_by_role("link", name="Log a call").click()
    page.get_by_label("Outcome").select_option("reached")
    page.get_by_label("Notes").fill("Wants a proposal")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Accept (SQL)").click()
    page.get_by_label("Budget").fill("20k")
    page.get_by_label("Authority").fill("Signs herself")
    page.get_by_label("Need").fill("Replace spreadsheets")
    page.get_by_role("textbox", name="Timeline").fill("This quarter")
    page.get_by_role("button", name="Save").click()
    # The panel now offers what an SQL allows: an offer.
    expect(page.get_by_role("link", name="Make an offer")).to_be_visible()
    assert time.monotonic() - started < 60
    waiting["Hottest"].refresh_from_db()
    assert (waiting["Hottest"].stage, waiting["Hottest"].owner) == (Stage.SQL, sales_rep)

    navigation = page.get_by_role("navigation", name="Main navigation")
    navigation.get_by_role("button", name=re.compile("Bob")).click()
    page.get_by_role("button", name="Log out").click()
    log_in(sales_manager.username)
    page.goto(f"{live_server.url}/funnel/?period=last_30_days")
    sql_row = page.locator(
        "tr", has=page.get_by_role("rowheader", name="Sales qualified", exact=True)
    ).first
    expect(sql_row.locator("td").first).to_have_text("1")
    sla_row = page.locator("tr", has_text="Bob").first
    expect(sla_row.locator("td").nth(1)).to_have_text("1")  # handed over 1, in time 1

    page.goto(
        f"{live_server.url}/funnel/quota/?revenue_target=60000&average_deal_size=6000"
        "&period=quarter"
    )
    mqls = page.locator("tr[data-stage='mql'] td").first
    # 10 won deals; opportunity -> won 1/1, SQL -> opportunity 1/2 (and now 1/3 with the
    # new SQL), MQL -> SQL 2/4 (3/7 now): the page shows what this year's rates ask for.
    expect(mqls).not_to_have_text("—")
    assert int(mqls.inner_text().replace(",", "").replace(".", "")) > 10
