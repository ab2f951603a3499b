"""The promise of erasure, checked the way an auditor would: a full dump of the database
holds no trace of the person's e-mail address, name or phone number."""

import os
import shutil
import subprocess

import pytest
from django.db import connection
from django.utils import timezone

from activities.models import Activity, Task
from leads.services.capture import CONFIRMATION_TASK
from outbox.services import request_task
from privacy import services
from privacy.tests.conftest import (
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    OLD_EMAIL,
    OTHER_EMAIL,
    PHONE,
    confirmation_model,
)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump dumps PostgreSQL"),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed"),
]

# The consent evidence (IP address, user agents) is the person's data too.
TRACES = (EMAIL, OLD_EMAIL, FIRST_NAME, LAST_NAME, PHONE, "Firefox/privacytest")
if confirmation_model() is not None:
    TRACES += ("Safari/privacytest-confirmation",)


def _dump() -> str:
    """Everything the test database holds, as pg_dump writes it. The test's data must be
    committed for pg_dump's own connection to see it: hence transaction=True."""
    settings = connection.settings_dict
    command = [
        "pg_dump",
        "--data-only",
        "-h",
        settings.get("HOST") or "127.0.0.1",
        "-p",
        str(settings.get("PORT") or 5432),
        "-U",
        settings.get("USER") or "postgres",
        settings["NAME"],
    ]
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    done = subprocess.run(command, capture_output=True, check=True, timeout=120, env=env, text=True)
    return done.stdout.lower()


@pytest.mark.django_db(transaction=True)
def test_after_erasure_a_database_dump_holds_no_trace_of_the_person(person, admin_user):
    # Sales notes name the person; a capture's double opt-in request carries its evidence.
    Activity.objects.create(
        lead=person.lead, kind="call", outcome="reached", notes=f"{LAST_NAME} belt terug"
    )
    Task.objects.create(lead=person.old, title=f"Bel {LAST_NAME}", due_at=timezone.now())
    request_task(
        CONFIRMATION_TASK,
        person.lead.pk,
        "privacytest_marketing",
        None,
        "web_form",
        "https://voorbeeld.nl/demo",
        "203.0.113.7",
        "Firefox/privacytest",
        "form:demo",
        None,
    )
    before = _dump()
    # The dump sees the person (so the check below can fail)...
    assert all(trace.lower() in before for trace in TRACES)

    services.erase_subject(
        lead=person.lead,
        actor=admin_user,
        reason=f"Asked by {FIRST_NAME} {LAST_NAME} by phone ({PHONE})",
        channel="web",
    )

    after = _dump()
    assert [trace for trace in TRACES if trace.lower() in after] == []
    # ...and still sees everyone else.
    assert OTHER_EMAIL in after
    assert "otto" in after
    assert "chrome/otto" in after
