"""Issue 5's acceptance, as people would do it: a visitor consents on a form and confirms by
e-mail, later withdraws from a mail and drops out of the next campaign file; the admin
exports the person's data, erases them, and a database dump holds no trace of them."""

import re
import shutil
import subprocess

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from consent.models import NoticeVersion, Purpose
from consent.services import has_consent
from leads.models import Lead
from outbox.models import OutboxMessage
from outbox.services import _registered_task
from privacy.models import SuppressedAddress, address_hash
from webforms.tests.factories import WebFormFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump dumps PostgreSQL"),
]

ADDRESS = "eva.jansen@kroonbouw.nl"


def run_requested_tasks() -> None:
    """Do what the worker would: run every task the outbox holds, here and now."""
    while pending := list(OutboxMessage.objects.pending().order_by("id")):
        for message in pending:
            _registered_task(message.task).apply(args=message.args).get()
            OutboxMessage.objects.filter(pk=message.pk).delete()


def link_in(body: str, path: str) -> str:
    return re.search(rf"https?://\S+{path}\S+/", body).group(0)


def campaign_file(user) -> str:
    client = Client()
    client.force_login(user)
    body = {"scope": "filter", "query": "", "for_campaign": "on", "confirmed": "on"}
    response = client.post(reverse("leads:export"), body)
    return b"".join(response.streaming_content).decode("utf-8-sig")


def dump() -> str:
    database = connection.settings_dict
    return subprocess.run(
        ["pg_dump", "--data-only", "-h", database["HOST"] or "127.0.0.1",
         "-U", database["USER"] or "postgres", database["NAME"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_consent_confirmed_withdrawn_exported_and_erased(
    page: Page, live_server, log_in, marketer, admin_user, settings
):
    settings.WEBFORMS_MIN_FILL_SECONDS = 0
    settings.SITE_URL = live_server.url
    # A browser test's database is emptied between tests, data migrations' purposes too.
    marketing = Purpose.objects.update_or_create(
        key="marketing_email",
        defaults={"name_en": "Newsletter", "name_nl": "Nieuwsbrief", "is_marketing": True,
                  "requires_double_opt_in": True},
    )[0]  # fmt: skip
    notice = NoticeVersion.objects.get_or_create(
        purpose=marketing,
        version=1,
        defaults={"text_en": "Send me the newsletter.", "text_nl": "Stuur me de nieuwsbrief."},
    )[0]
    WebFormFactory(slug="nieuwsbrief", lead_fields=["first_name", "last_name"],
                   purposes=[marketing], required_purposes=[marketing])  # fmt: skip

    # The visitor consents on the form: pending until confirmed.
    page.goto(f"{live_server.url}/f/nieuwsbrief/")
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_label("First name").fill("Eva")
    page.get_by_label("Last name").fill("Jansen")
    page.get_by_label(notice.text_en).check()
    page.get_by_role("button", name="Send").click()
    lead = Lead.objects.get(email=ADDRESS)
    assert not has_consent(lead.pk, "marketing_email")

    # ... confirms by e-mail ...
    run_requested_tasks()
    (message,) = mail.outbox
    assert message.to == [ADDRESS]
    page.goto(link_in(message.body, "/c/confirm/"))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading").first).to_be_visible()
    assert has_consent(lead.pk, "marketing_email")
    assert ADDRESS in campaign_file(marketer)

    # ... later clicks "withdraw" in the mail, and is out of the very next campaign file.
    page.goto(link_in(message.body, "/c/withdraw/"))
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("heading").first).to_be_visible()
    assert ADDRESS not in campaign_file(marketer)

    # The admin exports the person's data, then erases them.
    log_in(admin_user.username)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export data").click()
    assert download.value.suggested_filename.endswith(".zip")
    page.get_by_role("link", name="Erase this person").click()
    page.get_by_label("Type the person's e-mail address to confirm").fill(ADDRESS)
    page.get_by_label("Reason").fill("Request by e-mail")
    page.get_by_role("button", name=re.compile("Erase")).click()
    expect(page.get_by_role("heading", name="Leads", exact=True)).to_be_visible()

    assert not Lead.objects.filter(email=ADDRESS).exists()
    assert SuppressedAddress.objects.filter(address_hash=address_hash(ADDRESS)).exists()
    everything = dump()
    assert marketer.username in everything, "the dump holds the database"
    assert ADDRESS not in everything.lower()
    assert "Jansen" not in everything
