"""`manage.py import_leads FILE.csv`: the same import from a shell."""

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from imports.models import ImportJob, ImportStatus
from imports.tests.conftest import DUTCH_CSV
from leads.models import Event, Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def dutch_file(tmp_path):
    path = tmp_path / "beurs.csv"
    path.write_text(DUTCH_CSV.replace("Nieuwsbrief", "consent: marketing_email"), "utf-8")
    return path


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_leads", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_a_dutch_file_with_suggested_columns(dutch_file, marketer):
    out, err = run(dutch_file, "--user", "alice")

    assert Lead.objects.count() == 3
    job = ImportJob.objects.get()
    assert (job.status, job.created_by, job.file_name) == (ImportStatus.DONE, marketer, "beurs.csv")
    assert "3 leads created, 0 updated, 0 rows rejected" in out
    assert "E-mailadres -> email" in err and "consent: marketing_email -> consent:" in err


def test_the_dry_run_reports_and_saves_nothing(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("email,phone\na@kroon.nl,\nkapot,\na@kroon.nl,12\n", "utf-8")

    out, _err = run(path, "--dry-run", "--delimiter", ",")

    assert "3 rows: 1 valid, 2 with errors" in out and "Nothing was saved" in out
    assert "row 3 kapot: email:" in out and "row 4 a@kroon.nl: phone:" in out
    assert not Lead.objects.exists() and not ImportJob.objects.exists()


def test_an_import_twice_updates_the_leads_it_made(dutch_file):
    run(dutch_file)
    out, _err = run(dutch_file)

    assert "0 leads created, 3 updated" in out
    assert Lead.objects.count() == 3 and Event.objects.count() == 6


def test_a_file_without_an_email_column_is_refused(tmp_path):
    path = tmp_path / "namen.csv"
    path.write_text("Voornaam;Bedrijf\nJan;Kroon\n", "utf-8")

    with pytest.raises(CommandError, match="e-mail address"):
        run(path)


def test_a_file_in_another_encoding_is_refused(tmp_path):
    path = tmp_path / "oud.csv"
    path.write_bytes("email;naam\na@b.nl;Hoëvenaars\n".encode("cp1252"))

    with pytest.raises(CommandError, match="UTF-8"):
        run(path)
    assert not ImportJob.objects.exists()


def test_an_unknown_user_is_refused(dutch_file):
    with pytest.raises(CommandError, match="no user named"):
        run(dutch_file, "--user", "nobody")


def test_an_unreadable_file_ends_the_command_with_a_non_zero_exit_code(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "import_leads", str(tmp_path / "missing.csv")],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "cannot be read" in result.stderr
