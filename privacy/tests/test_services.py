"""Export and erasure of a person, and the suppression list."""

import csv
import io
import json
import zipfile

import pytest
from django.db import IntegrityError

from api.models import IdempotencyKey
from consent.models import ConsentRecord
from imports.models import ImportRowError
from leads.models import Event, Lead, LeadMerge, OwnerChange
from leads.tests.factories import LeadFactory
from privacy import services
from privacy.models import RequestKind, SubjectRequest, SuppressedAddress
from privacy.tests.conftest import (
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    NOTICE_TEXT,
    OLD_EMAIL,
    OTHER_EMAIL,
    PHONE,
    confirmation_model,
)
from scoring.models import ImpactPreview, StageTransition

pytestmark = pytest.mark.django_db


def _open(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def _rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


# --- Finding the person --------------------------------------------------------------------------


def test_an_address_of_a_merged_away_lead_finds_the_lead_it_was_merged_into(person):
    assert services.find_subject(OLD_EMAIL) == person.lead
    assert services.find_subject(f"  {EMAIL.upper()} ") == person.lead


def test_an_unknown_address_is_not_found_and_an_erased_one_is_gone(person):
    with pytest.raises(services.SubjectNotFound):
        services.find_subject("nobody@nowhere.nl")
    services.erase_subject(lead=person.lead, reason="request", channel="command")
    with pytest.raises(services.SubjectErased):
        services.find_subject(EMAIL)


# --- Export ------------------------------------------------------------------------------------


def test_export_holds_everything_on_the_person_as_json_and_csv(person, admin_user):
    content = services.export_subject(lead=person.lead, actor=admin_user, channel="web")

    archive = _open(content)
    assert set(archive.namelist()) == {
        "README.txt",
        "subject.json",
        *(f"{table}.csv" for table in services.EXPORT_TABLES),
    }
    document = json.loads(archive.read("subject.json"))
    assert document["profile"]["email"] == EMAIL
    assert document["profile"]["phone"] == PHONE
    assert [lead["email"] for lead in document["merged_leads"]] == [OLD_EMAIL]
    assert len(document["events"]) == 2  # the page view and the merged lead's event
    assert document["notes"][0]["properties"] == {"text": "Belde terug over prijzen"}
    granted = [c for c in document["consents"] if c["granted"]]
    assert {c["notice_text_en"] for c in granted} >= {NOTICE_TEXT}
    assert {c["ip_address"] for c in document["consents"]} == {"203.0.113.7"}
    assert len(document["consents"]) == 3  # including the merged lead's withdrawal
    assert document["stage_history"][0]["reason"] == f"{FIRST_NAME} wil snel starten"
    assert document["stage_history"][0]["details"]["bant"]["budget"] == "10k"
    assert document["score"]["lines"][0]["criterion"] == "Pricing page visited"
    assert document["owner_changes"][0]["reason"] == "Noord"
    if confirmation_model() is not None:
        assert len(document["confirmations"]) == 2
        assert document["confirmations"][0]["user_agent"] == "Safari/privacytest-confirmation"
    assert document["merges"][0]["duplicate_snapshot"]["email"] == OLD_EMAIL
    assert document["reference"] in archive.read("README.txt").decode()

    profile = _rows(archive, "profile.csv")
    assert [row["email"] for row in profile] == [EMAIL, OLD_EMAIL]
    assert profile[0]["last_name"] == LAST_NAME
    assert profile[0]["phone"] == PHONE  # a plain number is not quoted as a formula
    consents = _rows(archive, "consents.csv")
    assert NOTICE_TEXT in {row["notice_text_en"] for row in consents}
    assert json.loads(_rows(archive, "stage_history.csv")[0]["details"])["bant"]["need"] == "CRM"
    assert _rows(archive, "score.csv")[0]["points"] == "20"
    assert len(_rows(archive, "notes.csv")) == 1


def test_export_holds_nothing_of_other_people(person, admin_user):
    content = services.export_subject(lead=person.lead, actor=admin_user, channel="web")

    archive = _open(content)
    for name in archive.namelist():
        assert OTHER_EMAIL.encode() not in archive.read(name)


def test_a_cell_the_person_typed_as_a_formula_is_exported_inert(person, admin_user):
    Lead.objects.filter(pk=person.lead.pk).update(company='=HYPERLINK("http://x")')

    content = services.export_subject(lead=person.lead, actor=admin_user, channel="web")

    assert _rows(_open(content), "profile.csv")[0]["company"].startswith("'=")


def test_an_export_is_logged_with_actor_and_channel_but_no_personal_data(person, admin_user):
    services.export_subject(lead=person.lead, actor=admin_user, channel="api")

    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel) == (RequestKind.EXPORT, admin_user, "api")
    assert log.counts["events"] == 2
    assert log.counts["consents"] == 3
    stored = json.dumps([log.reason, log.counts, str(log.reference)])
    for trace in (EMAIL, OLD_EMAIL, FIRST_NAME, LAST_NAME, PHONE):
        assert trace not in stored


def test_a_lead_never_scored_exports_without_a_score(admin_user):
    lead = LeadFactory()

    archive = _open(services.export_subject(lead=lead, actor=None, channel="command"))

    assert json.loads(archive.read("subject.json"))["score"] is None
    assert _rows(archive, "score.csv") == []
    assert SubjectRequest.objects.get().actor is None


def test_an_unknown_channel_is_refused_and_nothing_is_logged(person):
    with pytest.raises(ValueError):
        services.export_subject(lead=person.lead, channel="carrier pigeon")
    assert not SubjectRequest.objects.exists()


# --- Erasure -----------------------------------------------------------------------------------


def test_erasure_removes_the_person_everywhere_and_keeps_everyone_else(
    person, admin_user, django_capture_on_commit_callbacks
):
    ids = [person.lead.pk, person.old.pk]

    with django_capture_on_commit_callbacks(execute=True):
        log = services.erase_subject(
            lead=person.lead, actor=admin_user, reason="Ticket 123", channel="web"
        )

    assert not Lead.objects.filter(pk__in=ids).exists()
    assert not Event.objects.filter(lead_id__in=ids).exists()
    assert not StageTransition.objects.filter(lead_id__in=ids).exists()
    assert not OwnerChange.objects.filter(lead_id__in=ids).exists()
    assert not LeadMerge.objects.exists()
    assert not ConsentRecord.objects.filter(subject_id__in=ids).exists()
    assert list(ImportRowError.objects.values_list("email", flat=True)) == [OTHER_EMAIL]
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["capture-2"]
    examples = ImpactPreview.objects.get().result["moves"][0]["examples"]
    assert [example["lead_id"] for example in examples] == [person.other.pk]
    person.job.refresh_from_db()
    assert [error["email"] for error in person.job.preview["errors"]] == [OTHER_EMAIL]
    # Otto is untouched.
    assert Lead.objects.get(pk=person.other.pk).email == OTHER_EMAIL
    assert ConsentRecord.objects.filter(subject_id=person.other.pk).count() == 1
    if (confirmation := confirmation_model()) is not None:
        assert list(confirmation.objects.values_list("subject_id", flat=True)) == [person.other.pk]
        assert log.counts["consent_confirmations"] == 2
    assert Event.objects.filter(lead=person.other).count() == 1

    assert log.counts == log.counts | {
        "leads": 1,
        "merged_leads": 1,
        "events": 2,
        "notes": 1,
        "consent_records": 3,
        "stage_transitions": 1,
        "owner_changes": 1,
        "lead_merges": 1,
        "import_row_errors": 1,
        "import_preview_rows": 1,
        "import_file_rows": 2,
        "idempotency_keys": 1,
        "score_previews": 1,
        "admin_log_entries": 1,
        "suppressed_addresses": 2,
    }


def test_erasure_blanks_the_persons_rows_in_import_files_and_keeps_the_row_numbers(
    person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.erase_subject(lead=person.lead, reason="request", channel="web")

    person.job.refresh_from_db()
    with person.job.file.open("rb") as stored:
        text = stored.read().decode()
    assert EMAIL not in text.lower() and FIRST_NAME not in text and PHONE not in text
    assert text.splitlines() == [
        "email;first_name;phone",
        ";;",
        f"{OTHER_EMAIL};Otto;+31611111111",
        ";;",
    ]
    assert person.job.file_size == len(text.encode())
    # The copy replaced the file; no other copy is left behind.
    assert person.job.file.storage.listdir("imports")[1] == [person.job.file.name.split("/")[-1]]


def test_erasure_puts_every_address_of_the_person_on_the_suppression_list(person):
    services.erase_subject(lead=person.lead, reason="request", channel="web")

    assert services.is_suppressed(EMAIL)
    assert services.is_suppressed(f" {OLD_EMAIL.upper()}")
    assert not services.is_suppressed(OTHER_EMAIL)
    # Only hashes are kept.
    hashes = list(SuppressedAddress.objects.values_list("address_hash", flat=True))
    assert all(EMAIL not in value and len(value) == 64 for value in hashes)


def test_erasing_through_a_merged_away_lead_erases_the_whole_person(person):
    services.erase_subject(lead=person.old, reason="request", channel="web")

    assert list(Lead.objects.values_list("email", flat=True)) == [OTHER_EMAIL]


def test_the_erasure_log_holds_counts_actor_and_a_reason_without_the_person(person, admin_user):
    log = services.erase_subject(
        lead=person.lead,
        actor=admin_user,
        reason=f"Request by {FIRST_NAME} {LAST_NAME.upper()} ({EMAIL}, {PHONE}) on the phone",
        channel="api",
    )

    log.refresh_from_db()
    assert (log.kind, log.actor, log.channel) == (RequestKind.ERASURE, admin_user, "api")
    assert log.reason == "Request by [erased] ([erased], [erased]) on the phone"
    stored = json.dumps([log.reason, log.counts, str(log.reference)]).lower()
    for trace in (EMAIL, OLD_EMAIL, FIRST_NAME, LAST_NAME, PHONE):
        assert trace.lower() not in stored


def test_a_failure_half_way_rolls_the_whole_erasure_back(person, monkeypatch):
    def broken(ids):
        raise RuntimeError("disk on fire")

    # Fails after the leads, consents and import leftovers are gone, before the log.
    monkeypatch.setattr(services, "_erase_preview_examples", broken)

    with pytest.raises(RuntimeError):
        services.erase_subject(lead=person.lead, reason="request", channel="web")

    assert Lead.objects.filter(pk__in=[person.lead.pk, person.old.pk]).count() == 2
    assert ConsentRecord.objects.filter(subject_id=person.lead.pk).count() == 3
    assert Event.objects.filter(lead=person.lead).count() == 3
    assert ImportRowError.objects.count() == 2
    assert IdempotencyKey.objects.count() == 2
    assert not SuppressedAddress.objects.exists()
    assert not SubjectRequest.objects.exists()
    with person.job.file.open("rb") as stored:
        assert EMAIL.encode() in stored.read()
    # No half-written copy of the import file is left behind.
    assert len(person.job.file.storage.listdir("imports")[1]) == 1


def test_the_consent_guard_is_closed_again_after_an_erasure(person):
    services.erase_subject(lead=person.lead, reason="request", channel="web")

    with pytest.raises(IntegrityError):
        ConsentRecord.objects.filter(subject_id=person.other.pk).delete()


def test_the_log_is_append_only(person):
    log = services.erase_subject(lead=person.lead, reason="request", channel="web")

    with pytest.raises(ValueError):
        log.save()


# --- Suppression -------------------------------------------------------------------------------


def test_lifting_a_suppression_forgets_the_address_once(person):
    services.erase_subject(lead=person.lead, reason="request", channel="web")

    assert services.lift_suppression(EMAIL.upper()) is True
    assert not services.is_suppressed(EMAIL)
    assert services.is_suppressed(OLD_EMAIL)
    assert services.lift_suppression(EMAIL) is False


def test_an_address_never_erased_is_not_suppressed(db):
    assert services.is_suppressed("new@voorbeeld.nl") is False
    assert services.lift_suppression("new@voorbeeld.nl") is False
