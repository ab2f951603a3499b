"""A marketer imports a Dutch Excel file in the browser: headless Chromium with the fixtures
of tests/browser/conftest.py, where a console error or CSP violation fails the test."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from imports.models import ImportJob, ImportStatus
from imports.tests.conftest import DUTCH_CSV
from imports.tests.factories import ImportJobFactory
from leads.models import Lead

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOT = "/tmp/leadladder-import.png"
PROGRESS_SCREENSHOT = "/tmp/leadladder-import-progress.png"


def test_a_marketer_imports_a_dutch_file_with_the_mouse(
    page: Page, live_server, log_in, marketer, settings, tmp_path, consent_purposes
):
    # Tasks run in the server's process once each request commits, as in `make run`.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    upload = tmp_path / "beurs.csv"
    upload.write_text(DUTCH_CSV, "utf-8")
    log_in(marketer.username)

    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Import", exact=True
    ).click()
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Upload and choose columns").click()

    expect(page.get_by_role("heading", name="Which column holds what?")).to_be_visible()
    expect(page.get_by_label("E-mailadres")).to_have_value("email")
    expect(page.get_by_label("Land")).to_have_value("country")
    page.get_by_label("Nieuwsbrief").select_option("consent:marketing_email")
    page.get_by_role("button", name="Check the rows (dry run)").click()

    expect(page.get_by_text("Dry run: nothing is saved yet")).to_be_visible()
    assert Lead.objects.count() == 0
    page.get_by_role("button", name="Import 3 valid rows").click()

    expect(page.get_by_text("Leads created")).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert Lead.objects.count() == 3


def test_the_progress_bar_follows_a_running_import_until_it_is_done(
    page: Page, live_server, log_in, marketer
):
    job = ImportJobFactory(
        created_by=marketer,
        status=ImportStatus.RUNNING,
        heartbeat_at=timezone.now(),
        started_at=timezone.now(),
        total_rows=100_000,
        done_rows=20_000,
    )
    log_in(marketer.username)
    page.goto(f"{live_server.url}{reverse('imports:detail', args=[job.pk])}")

    progress = page.get_by_role("progressbar", name="Importing rows")
    expect(progress).to_have_attribute("value", "20000")
    page.screenshot(path=PROGRESS_SCREENSHOT, full_page=True)
    ImportJob.objects.filter(pk=job.pk).update(done_rows=60_000)
    expect(progress).to_have_attribute("value", "60000")
    expect(page.get_by_text("60,000 of 100,000 rows (60%).")).to_be_visible()

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.DONE, done_rows=100_000, created_count=99_000, updated_count=1_000
    )

    expect(page.get_by_text("Leads created")).to_be_visible()
    expect(page.locator("[hx-trigger]")).to_have_count(0)
