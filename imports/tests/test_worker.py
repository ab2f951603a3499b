"""Service tests: an import travels through the outbox and real Redis to a real worker."""

import pytest
from django.urls import reverse

from imports.models import ImportJob, ImportStatus
from imports.tests.conftest import DUTCH_CSV, PROJECT_MEDIA_ROOT, csv_file
from leads.models import Event, Lead

pytestmark = [
    pytest.mark.service,
    pytest.mark.django_db(transaction=True),
]


def test_an_import_started_in_the_browser_is_checked_and_run_by_the_worker(
    client,
    request,
    marketer,
    settings,
    consent_purposes,
    celery_worker_process,
    outbox_relay_process,
    wait_until,
):
    # The worker process reads the upload where the settings put it, not in a test's tmp.
    settings.MEDIA_ROOT = PROJECT_MEDIA_ROOT
    client.force_login(marketer)
    client.post(reverse("imports:upload"), {"file": csv_file(DUTCH_CSV, name="beurs.csv")})
    job = ImportJob.objects.get()
    stored = PROJECT_MEDIA_ROOT / job.file.name
    request.addfinalizer(lambda: stored.unlink(missing_ok=True))
    mapping = {f"column_{index}": target for index, target in enumerate(
        ["email", "first_name", "last_name", "company", "phone", "job_title", "country",
         "consent:marketing_email"]
    )}  # fmt: skip

    response = client.post(reverse("imports:mapping", args=[job.pk]), mapping)
    assert response.status_code == 302, response.context["form"].errors

    def status_is(status):
        def check():
            job.refresh_from_db()
            return job.status == status

        return check

    assert wait_until(status_is(ImportStatus.PREVIEWED), timeout=30), job.status
    assert job.preview["create"] == 3 and not Lead.objects.exists()

    client.post(reverse("imports:start", args=[job.pk]))

    assert wait_until(status_is(ImportStatus.DONE), timeout=30), (job.status, job.error)
    assert (job.created_count, job.done_rows) == (3, 3)
    assert Lead.objects.count() == 3 and Event.objects.count() == 3
    assert not stored.exists()
