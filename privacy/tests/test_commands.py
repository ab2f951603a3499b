"""manage.py export_subject and erase_subject."""

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leads.models import Lead
from privacy.models import SubjectRequest
from privacy.tests.conftest import EMAIL, OTHER_EMAIL

pytestmark = pytest.mark.django_db


def _run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue().strip()


def test_export_writes_the_zip_to_the_given_path_and_prints_it(person, tmp_path):
    target = tmp_path / "jan.zip"

    printed = _run("export_subject", EMAIL, "--output", str(target))

    assert printed == str(target.resolve())
    document = json.loads(zipfile.ZipFile(target).read("subject.json"))
    assert document["profile"]["email"] == EMAIL
    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel) == ("export", None, "command")


def test_export_without_output_writes_in_the_current_folder(person, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    printed = Path(_run("export_subject", EMAIL))

    assert printed.parent == tmp_path.resolve()
    assert printed.suffix == ".zip" and printed.exists()
    assert EMAIL not in printed.name


def test_export_of_an_unknown_address_is_a_clear_error(person):
    with pytest.raises(CommandError, match="No lead has the e-mail address"):
        _run("export_subject", "nobody@nowhere.nl")
    assert not SubjectRequest.objects.exists()


def test_erase_with_yes_erases_without_asking(person, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))

    printed = _run("erase_subject", EMAIL, "--reason", "Ticket 9", "--yes")

    assert "Reference" in printed
    assert list(Lead.objects.values_list("email", flat=True)) == [OTHER_EMAIL]
    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel, log.reason) == (
        "erasure",
        None,
        "command",
        "Ticket 9",
    )


def test_erase_asks_and_erases_when_the_address_is_typed(person, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: EMAIL.upper())

    _run("erase_subject", EMAIL, "--reason", "Ticket 9")

    assert not Lead.objects.filter(email=EMAIL).exists()


def test_erase_not_confirmed_erases_nothing(person, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")

    with pytest.raises(CommandError, match="Not confirmed"):
        _run("erase_subject", EMAIL, "--reason", "Ticket 9")
    assert Lead.objects.count() == 3
    assert not SubjectRequest.objects.exists()


def test_erase_of_an_unknown_or_erased_address_is_a_clear_error(person):
    with pytest.raises(CommandError, match="No lead has"):
        _run("erase_subject", "nobody@nowhere.nl", "--reason", "x", "--yes")
    _run("erase_subject", EMAIL, "--reason", "x", "--yes")
    with pytest.raises(CommandError, match="erased before"):
        _run("erase_subject", EMAIL, "--reason", "x", "--yes")


def test_erase_needs_a_reason(person):
    with pytest.raises(CommandError):
        _run("erase_subject", EMAIL, "--yes")
    with pytest.raises(CommandError, match="reason"):
        _run("erase_subject", EMAIL, "--reason", "  ", "--yes")
    assert Lead.objects.count() == 3
