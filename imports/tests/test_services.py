"""Checking and importing CSV files through the capture service."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from consent.models import ConsentMethod, ConsentRecord, Purpose
from imports import services
from imports.models import STALE_AFTER, HeaderMapping, ImportJob, ImportRowError, ImportStatus
from imports.tests.conftest import DUTCH_CSV
from leads.models import Event, Lead, Source
from leads.services import capture as capture_module
from leads.services.capture import CaptureContext, capture_lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

WITH_CONSENT = DUTCH_CSV.replace("Nieuwsbrief", "Toestemming marketing_email")


def test_a_dutch_excel_file_imports_with_normalised_values_and_an_import_event(
    uploaded, imported, marketer
):
    job = imported(uploaded(WITH_CONSENT, name="beurs 2025.csv"))

    assert job.status == ImportStatus.DONE
    assert (job.done_rows, job.created_count, job.updated_count, job.rejected_count) == (3, 3, 0, 0)
    sanne = Lead.objects.get(email="sanne@bouwbedrijf.nl")
    assert (sanne.last_name, sanne.company, sanne.job_title) == ("de Vries", "Bouwbedrijf Kroon",
                                                                 "Directeur")  # fmt: skip
    assert (sanne.phone, sanne.country, sanne.source) == ("+31612345678", "NL", Source.IMPORT)
    jeroen = Lead.objects.get(email="jeroen@houtbouw.be")
    assert (jeroen.country, jeroen.phone) == ("BE", "+32470123456")
    event = Event.objects.get(lead=sanne)
    assert event.properties["import"] == job.pk and event.properties["row"] == 2


def test_the_file_is_deleted_once_imported(uploaded, imported, settings):
    job = uploaded(DUTCH_CSV)
    stored = settings.MEDIA_ROOT / job.file.name
    assert stored.exists() and job.file.name.startswith("imports/")

    job = imported(job)

    assert not stored.exists() and not job.file


def test_consent_columns_record_grants_and_withdrawals_as_import_consent(
    uploaded, imported, marketer
):
    job = imported(uploaded(WITH_CONSENT, name="beurs.csv"))

    records = {
        record.subject_id: record for record in ConsentRecord.objects.select_related("purpose")
    }
    sanne = Lead.objects.get(email="sanne@bouwbedrijf.nl")
    jeroen = Lead.objects.get(email="jeroen@houtbouw.be")
    assert set(records) == {sanne.pk, jeroen.pk}  # Lotte's cell is empty: nothing recorded
    assert records[sanne.pk].granted and records[sanne.pk].notice is not None
    assert not records[jeroen.pk].granted
    for record in records.values():
        assert record.purpose.key == "marketing_email"
        assert record.method == ConsentMethod.IMPORT
        assert record.source == "beurs.csv"
        assert record.evidence == f"import:{job.pk}"
        assert record.recorded_by == marketer


def test_rows_with_a_bad_email_or_phone_are_reported_while_the_valid_rows_import(
    uploaded, imported
):
    job = imported(
        uploaded(
            "email;phone;first_name\n"
            "goed@kroon.nl;0612345678;Goed\n"
            "geen-adres;;Fout\n"
            "ook.goed@kroon.nl;;Ook\n"
            "slecht@kroon.nl;+31 6 123;Kort\n"
        )
    )

    assert (job.created_count, job.rejected_count) == (2, 2)
    assert set(Lead.objects.values_list("email", flat=True)) == {"goed@kroon.nl",
                                                                 "ook.goed@kroon.nl"}  # fmt: skip
    errors = {error.row_number: error for error in ImportRowError.objects.filter(job=job)}
    assert set(errors) == {3, 5}
    assert list(errors[3].errors) == ["email"] and errors[3].email == "geen-adres"
    assert list(errors[5].errors) == ["phone"]


def test_an_address_twice_in_the_file_gives_one_lead_with_an_event_per_row(uploaded, imported):
    job = imported(
        uploaded(
            "email;first_name;company\n"
            "dubbel@kroon.nl;Eerste;Kroon\n"
            "DUBBEL@kroon.nl;Tweede;\n"
            "ander@kroon.nl;Ander;\n"
        )
    )

    lead = Lead.objects.get(email="dubbel@kroon.nl")
    assert (lead.first_name, lead.company) == ("Tweede", "Kroon")  # later rows update earlier
    assert Event.objects.filter(lead=lead).count() == 2
    assert Lead.objects.count() == 2
    assert (job.created_count, job.updated_count) == (2, 1)


def test_an_address_twice_in_different_batches_still_gives_one_lead(uploaded, tasks_in_process):
    job = uploaded("email;first_name\ntwee@kroon.nl;Een\nx@kroon.nl;X\ntwee@kroon.nl;Twee\n")
    job.mapping = ["email", "first_name"]
    job.status = ImportStatus.QUEUED
    job.save()

    assert services.run_import(job_id=job.pk, batch_size=2) is services.RunOutcome.DONE

    assert Lead.objects.get(email="twee@kroon.nl").first_name == "Twee"
    assert Event.objects.count() == 3 and Lead.objects.count() == 2


def test_an_existing_lead_is_updated_not_duplicated(uploaded, imported):
    existing = LeadFactory(email="bekend@kroon.nl", first_name="Bekend", company="Oud B.V.")

    job = imported(uploaded("E-mail;Bedrijf;Voornaam\nBekend@Kroon.nl;Nieuw B.V.;\n"))

    assert Lead.objects.count() == 1
    existing.refresh_from_db()
    assert (existing.first_name, existing.company) == ("Bekend", "Nieuw B.V.")
    assert (job.created_count, job.updated_count) == (0, 1)


def test_the_dry_run_counts_what_would_happen_and_writes_no_lead(uploaded, tasks_in_process):
    LeadFactory(email="bekend@kroon.nl")
    job = uploaded(
        "email;phone;Toestemming marketing_email\n"
        "nieuw@kroon.nl;;ja\n"
        "bekend@kroon.nl;;\n"
        "nieuw@kroon.nl;;nee\n"
        "kapot;;\n"
        "slecht@kroon.nl;12;misschien\n"
    )
    before = (Lead.objects.count(), Event.objects.count(), ConsentRecord.objects.count())

    with tasks_in_process():
        services.choose_mapping(
            job=job, mapping=["email", "phone", "consent:marketing_email"], user=job.created_by
        )

    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.checked_rows == 5
    preview = job.preview
    assert (preview["valid"], preview["invalid"]) == (3, 2)
    assert (preview["create"], preview["update"], preview["duplicates"]) == (1, 2, 1)
    assert [error["row"] for error in preview["errors"]] == [5, 6]
    assert set(preview["errors"][1]["errors"]) == {"phone", "consent:marketing_email"}
    assert (Lead.objects.count(), Event.objects.count(), ConsentRecord.objects.count()) == before
    assert not ImportRowError.objects.exists()


def test_the_dry_run_knows_an_address_of_a_merged_lead_updates_the_survivor(uploaded):
    survivor = LeadFactory(email="nieuw@kroon.nl")
    LeadFactory(email="oud@kroon.nl", merged_into=survivor)
    job = uploaded("email\noud@kroon.nl\nnieuw@kroon.nl\n")

    result = services.dry_run(
        rows=[(2, ["oud@kroon.nl"]), (3, ["nieuw@kroon.nl"])], mapping=["email"]
    )

    assert (result.create, result.update, result.duplicates) == (0, 2, 1)
    assert job.total_rows == 2


def test_the_mapping_is_remembered_for_files_with_the_same_columns(uploaded, marketer):
    first = uploaded("Mail;Naam;Kleur\na@kroon.nl;Jan;rood\n")
    services.choose_mapping(job=first, mapping=["email", "first_name", ""], user=marketer)

    second = uploaded("mail;naam;kleur\nb@kroon.nl;Piet;blauw\n")

    assert services.proposed_mapping(headers=second.headers) == ["email", "first_name", ""]
    assert HeaderMapping.objects.get().updated_by == marketer
    other = uploaded("Mail;Naam\nc@kroon.nl;Kees\n")
    assert services.proposed_mapping(headers=other.headers) == ["email", ""]


def test_a_remembered_consent_column_of_a_purpose_switched_off_is_ignored(uploaded, marketer):
    job = uploaded("email;Bellen\na@kroon.nl;ja\n")
    services.choose_mapping(job=job, mapping=["email", "consent:phone_contact"], user=marketer)
    Purpose.objects.filter(key="phone_contact").update(is_active=False)

    assert services.proposed_mapping(headers=job.headers) == ["email", ""]


def _queued(uploaded, rows: int) -> ImportJob:
    text = "email;first_name\n" + "".join(f"rij{n}@kroon.nl;Rij {n}\n" for n in range(rows))
    job = uploaded(text)
    ImportJob.objects.filter(pk=job.pk).update(
        mapping=["email", "first_name"], status=ImportStatus.QUEUED, preview={"valid": rows}
    )
    return job


class WorkerDied(BaseException):
    """Not an Exception: like a killed process, nothing gets to clean up after it."""


def test_a_crashed_import_resumes_after_the_last_committed_batch_without_duplicates(
    uploaded, monkeypatch, tasks_in_process
):
    job = _queued(uploaded, rows=7)
    real_capture = capture_module.capture_leads
    calls = []

    def capture_then_die(**kwargs):
        calls.append(len(kwargs["rows"]))
        if len(calls) == 3:
            raise WorkerDied
        return real_capture(**kwargs)

    monkeypatch.setattr(services, "capture_leads", capture_then_die)
    with pytest.raises(WorkerDied):
        services.run_import(job_id=job.pk, batch_size=3)
    job.refresh_from_db()
    assert (job.status, job.done_rows, Lead.objects.count()) == (ImportStatus.RUNNING, 6, 6)

    # The worker is gone: its heartbeat goes stale and the redelivered task takes over.
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at - 2 * STALE_AFTER)
    monkeypatch.setattr(services, "capture_leads", real_capture)
    assert services.run_import(job_id=job.pk, batch_size=3) is services.RunOutcome.DONE

    job.refresh_from_db()
    assert (job.status, job.done_rows, job.created_count) == (ImportStatus.DONE, 7, 7)
    assert Lead.objects.count() == 7 and Event.objects.count() == 7


def test_an_import_preset_to_resume_skips_the_rows_already_done(uploaded):
    job = _queued(uploaded, rows=5)
    for n in range(2):
        capture_lead(data={"email": f"rij{n}@kroon.nl"}, context=CaptureContext(channel="import"))
    ImportJob.objects.filter(pk=job.pk).update(done_rows=2, created_count=2)

    services.run_import(job_id=job.pk, batch_size=2)

    job.refresh_from_db()
    assert (job.done_rows, job.created_count, job.updated_count) == (5, 5, 0)
    assert Event.objects.count() == 5  # rows 1 and 2 were not captured a second time


def test_running_an_import_twice_imports_it_once(uploaded, imported, tasks_in_process):
    job = imported(uploaded(DUTCH_CSV))
    counts = (Lead.objects.count(), Event.objects.count())

    with tasks_in_process():
        outcome = services.run_import(job_id=job.pk)

    assert outcome is services.RunOutcome.LEFT_ALONE
    assert (Lead.objects.count(), Event.objects.count()) == counts


def test_an_import_another_worker_is_running_is_left_alone(uploaded):
    job = _queued(uploaded, rows=3)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, runner="elsewhere", heartbeat_at=timezone.now()
    )

    assert services.run_import(job_id=job.pk) is services.RunOutcome.BUSY
    assert Lead.objects.count() == 0


def test_a_worker_whose_import_was_taken_over_writes_nothing_more(uploaded):
    job = _queued(uploaded, rows=3)
    claimed = services._claim(job.pk, "first")
    assert isinstance(claimed, ImportJob)
    ImportJob.objects.filter(pk=job.pk).update(runner="second")

    done = services._import_batch(
        job.pk, "first", [(2, ["rij0@kroon.nl", "x"])], ["email", "first_name"],
        services.import_context(job=job),
    )  # fmt: skip

    assert done is None
    assert Lead.objects.count() == 0


def test_a_missing_import_is_no_error():
    assert services.run_import(job_id=987654) is services.RunOutcome.MISSING
    assert services.preview_import(job_id=987654) is None


def test_an_import_that_breaks_is_marked_failed_with_the_reason_and_can_resume(
    uploaded, monkeypatch
):
    job = _queued(uploaded, rows=3)

    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "capture_leads", broken)
    assert services.run_import(job_id=job.pk) is services.RunOutcome.FAILED

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "database on fire" in job.error
    assert job.can_start
    services.start_import(job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED


def test_row_errors_kept_are_limited_but_counted_in_full(uploaded, monkeypatch):
    monkeypatch.setattr(services, "ROW_ERRORS_KEPT", 3)
    text = "email\n" + "kapot\n" * 5 + "goed@kroon.nl\n"
    job = uploaded(text)
    ImportJob.objects.filter(pk=job.pk).update(mapping=["email"], status=ImportStatus.QUEUED)

    services.run_import(job_id=job.pk, batch_size=2)

    job.refresh_from_db()
    assert (job.rejected_count, job.created_count) == (5, 1)
    assert list(job.row_errors.values_list("row_number", flat=True)) == [2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_import_at_once_import_each_row_once(uploaded):
    job = _queued(uploaded, rows=40)
    outcomes = []

    def worker():
        try:
            outcomes.append(services.run_import(job_id=job.pk, batch_size=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcome.value for outcome in outcomes) == ["busy", "done"]
    job.refresh_from_db()
    assert (job.done_rows, job.created_count) == (40, 40)
    assert Lead.objects.count() == 40 and Event.objects.count() == 40
