import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from imports import services
from imports.models import ImportJob
from imports.parsing import inspect_csv
from tests.browser.conftest import (  # noqa: F401 (the browser tests' fixtures, shared)
    browser_problems,
    browser_type_launch_args,
    log_in,
    page,
)

# What Dutch Excel writes with "CSV UTF-8": a byte order mark, semicolons, Dutch headers.
DUTCH_CSV = (
    "\ufeffE-mailadres;Voornaam;Achternaam;Bedrijf;Telefoon;Functie;Land;Nieuwsbrief\r\n"
    "sanne@bouwbedrijf.nl;Sanne;de Vries;Bouwbedrijf Kroon;06 12345678;Directeur;Nederland;ja\r\n"
    "Jeroen@Houtbouw.be;Jeroen;Peeters;Houtbouw;+32 470 12 34 56;Inkoper;België;nee\r\n"
    "lotte@zorg.nl;Lotte;Bakker;Zorggroep Oost;;Manager;NL;\r\n"
)


# Where uploads go outside tests, and in the worker process of the service tests.
PROJECT_MEDIA_ROOT = settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def consent_purposes(transactional_db):
    """The consent purposes and notices the migrations make. A transactional test starts
    from a flushed database, without them."""
    migration = importlib.import_module("consent.migrations.0002_default_purposes")
    migration.create_default_purposes(django_apps, None)


@pytest.fixture
def tasks_in_process(settings, django_capture_on_commit_callbacks):
    """Run requested tasks in this process once the transaction commits, as `make run` does
    without Redis; the outbox publishes them after commit. Use as a context manager."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return lambda: django_capture_on_commit_callbacks(execute=True)


def csv_file(text: str, *, name: str = "leads.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


@pytest.fixture
def uploaded(marketer):
    """An uploaded import of `text`, as the upload page leaves it."""

    def upload(text: str, *, name: str = "leads.csv", user=None) -> ImportJob:
        data = text.encode()
        return services.create_import_job(
            upload=SimpleUploadedFile(name, data),
            inspection=inspect_csv(io.BytesIO(data)),
            user=user or marketer,
        )

    return upload


@pytest.fixture
def imported(tasks_in_process):
    """Check and import a job with its proposed mapping (or `mapping`), tasks in-process."""

    def run(job: ImportJob, mapping: list[str] | None = None) -> ImportJob:
        mapping = mapping or services.proposed_mapping(headers=job.headers)
        with tasks_in_process():
            services.choose_mapping(job=job, mapping=mapping, user=job.created_by)
        with tasks_in_process():
            services.start_import(job=job)
        job.refresh_from_db()
        return job

    return run
