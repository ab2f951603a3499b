"""The import pages: upload, columns, dry run, progress, summary and errors."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import ConsentRecord
from imports.models import ImportJob, ImportRowError, ImportStatus
from imports.tests.conftest import DUTCH_CSV, csv_file
from imports.tests.factories import ImportJobFactory
from leads.models import Lead

pytestmark = pytest.mark.django_db


def _upload(client, text: str, **kwargs):
    return client.post(
        reverse("imports:upload"), {"file": csv_file(text, **kwargs), "delimiter": ""}
    )


def _mapping_data(response) -> dict:
    form = response.context["form"]
    return {name: form[name].value() or "" for name in form.fields}


def test_a_marketer_imports_a_dutch_excel_file_from_upload_to_summary(
    client, marketer, tasks_in_process
):
    client.force_login(marketer)

    response = _upload(client, DUTCH_CSV, name="beurs.csv")

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:mapping", args=[job.pk])
    assert (job.file_name, job.delimiter, job.total_rows) == ("beurs.csv", ";", 3)

    page = client.get(response.url)
    proposed = _mapping_data(page)
    assert list(proposed.values()) == [
        "email", "first_name", "last_name", "company", "phone", "job_title", "country", "",
    ]  # fmt: skip
    assert "sanne@bouwbedrijf.nl" in page.content.decode()

    with tasks_in_process():
        checked = client.post(response.url, proposed | {"column_7": "consent:marketing_email"})
    assert checked.url == reverse("imports:detail", args=[job.pk])
    preview = client.get(checked.url)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    assert job.preview["create"] == 3 and Lead.objects.count() == 0
    assert "Import 3 valid rows" in preview.content.decode()

    with tasks_in_process():
        client.post(reverse("imports:start", args=[job.pk]))
    summary = client.get(checked.url)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created_count == 3
    assert Lead.objects.count() == 3 and ConsentRecord.objects.count() == 2
    assert 'hx-trigger="every 1s"' not in summary.content.decode()
    assert "Leads created" in summary.content.decode()


def test_a_comma_separated_file_is_uploaded_with_its_separator(client, marketer):
    client.force_login(marketer)

    _upload(client, 'email,first_name,company\njan@kroon.nl,Jan,"Kroon, Zn"\n')

    job = ImportJob.objects.get()
    assert (job.delimiter, job.headers) == (",", ["email", "first_name", "company"])


def test_a_file_in_the_wrong_encoding_is_refused_with_a_message_and_nothing_is_stored(
    client, marketer, settings
):
    client.force_login(marketer)

    response = _upload(client, "E-mailadres;Achternaam\nx@kroon.nl;Hoëvenaars\n", encoding="cp1252")

    assert response.status_code == 200
    assert "CSV UTF-8" in str(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists()
    assert not (settings.MEDIA_ROOT / "imports").exists()


def test_a_file_over_the_size_limit_is_refused_with_the_limit(client, marketer, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    client.force_login(marketer)

    response = _upload(client, "email\n" + "jan@kroon.nl\n" * 20)

    assert "files up to 100" in str(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("email;Naam;naam\na@b.nl;x;y\n", "more than once")],
)
def test_an_empty_file_or_duplicate_headers_get_a_message(client, marketer, text, message):
    client.force_login(marketer)

    response = _upload(client, text)

    assert message in str(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists()


def test_a_mapping_without_an_email_column_is_refused(client, marketer, uploaded):
    job = uploaded("Naam;Bedrijf\nJan;Kroon\n")
    client.force_login(marketer)

    response = client.post(
        reverse("imports:mapping", args=[job.pk]), {"column_0": "first_name", "column_1": "company"}
    )

    assert response.status_code == 200
    assert "e-mail address" in str(response.context["form"].non_field_errors())
    job.refresh_from_db()
    assert job.status == ImportStatus.UPLOADED and job.mapping == []


def test_two_columns_for_one_field_are_refused(client, marketer, uploaded):
    job = uploaded("Mail;E-mail\na@kroon.nl;b@kroon.nl\n")
    client.force_login(marketer)

    response = client.post(
        reverse("imports:mapping", args=[job.pk]), {"column_0": "email", "column_1": "email"}
    )

    assert "Mail" in str(response.context["form"].errors["column_1"])


def test_the_progress_is_polled_as_a_partial_until_the_import_is_done(client, marketer):
    job = ImportJobFactory(created_by=marketer, status=ImportStatus.RUNNING, total_rows=200,
                           done_rows=50)  # fmt: skip
    client.force_login(marketer)

    page = client.get(reverse("imports:detail", args=[job.pk]))
    partial = client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})

    html = page.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'aria-live="polite"' in html
    assert '<progress id="import-progress"' in html and 'value="50"' in html
    assert "<html" not in partial.content.decode()
    assert 'hx-trigger="every 1s"' in partial.content.decode()
    assert reverse("imports:detail", args=[job.pk]) + '">' in html  # the refresh link

    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, done_rows=200)
    done = client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.content.decode()


def test_the_row_errors_download_as_csv_with_formulas_neutralised(client, sales_rep):
    job = ImportJobFactory(status=ImportStatus.DONE, mapping=["email", "first_name"],
                           started_at="2025-01-01T10:00Z", created_by=sales_rep)  # fmt: skip
    ImportRowError.objects.create(
        job=job, row_number=3, email='=HYPERLINK("http://x")', errors={"email": ["Invalid."]}
    )
    ImportRowError.objects.create(
        job=job, row_number=5, email="a@b.nl", errors={"first_name": ["Too long.", "Bad."]}
    )
    client.force_login(sales_rep)

    response = client.get(reverse("imports:errors", args=[job.pk]))

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [
        ["Row", "E-mail address", "Column", "Problem"],
        ["3", '\'=HYPERLINK("http://x")', "E-mailadres", "Invalid."],
        ["5", "a@b.nl", "Voornaam", "Too long."],
        ["5", "a@b.nl", "Voornaam", "Bad."],
    ]


def test_the_dry_run_errors_are_shown_with_the_column_names_of_the_file(
    client, marketer, uploaded, tasks_in_process
):
    job = uploaded("E-mailadres;Telefoon\nkapot;\ngoed@kroon.nl;12\n")
    client.force_login(marketer)
    with tasks_in_process():
        client.post(reverse("imports:mapping", args=[job.pk]),
                    {"column_0": "email", "column_1": "phone"})  # fmt: skip

    response = client.get(reverse("imports:detail", args=[job.pk]))

    problems = [entry["problems"][0][0] for entry in response.context["row_errors"]]
    assert problems == ["E-mailadres", "Telefoon"]
    assert "Import 0 valid rows" not in response.content.decode()


def test_only_the_uploader_chooses_columns_and_starts_an_import(client, sales_manager):
    job = ImportJobFactory(status=ImportStatus.PREVIEWED, preview={"valid": 2})
    client.force_login(sales_manager)

    mapping = client.post(reverse("imports:mapping", args=[job.pk]), {"column_0": "email"})
    start = client.post(reverse("imports:start", args=[job.pk]))

    assert (mapping.status_code, start.status_code) == (403, 403)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED


def test_a_user_without_a_role_cannot_upload(client, no_role_user):
    client.force_login(no_role_user)

    response = _upload(client, DUTCH_CSV)

    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_an_import_that_is_running_cannot_be_started_again(client, marketer):
    job = ImportJobFactory(
        created_by=marketer,
        status=ImportStatus.RUNNING,
        heartbeat_at=timezone.now(),
        preview={"valid": 1},
    )
    client.force_login(marketer)

    response = client.post(reverse("imports:start", args=[job.pk]), follow=True)

    assert "cannot be started now" in response.content.decode()


def test_the_columns_of_a_finished_import_cannot_be_changed(client, marketer):
    job = ImportJobFactory(created_by=marketer, status=ImportStatus.DONE, done_rows=2)
    client.force_login(marketer)

    response = client.get(reverse("imports:mapping", args=[job.pk]))

    assert response.url == reverse("imports:detail", args=[job.pk])


def test_the_upload_page_lists_recent_imports_and_the_nav_links_to_it(client, marketer):
    ImportJobFactory(file_name="klanten.csv")
    client.force_login(marketer)

    response = client.get(reverse("imports:upload"))

    html = response.content.decode()
    assert "klanten.csv" in html
    assert f'href="{reverse("imports:upload")}"' in html
    assert "<script>" not in html and "style=" not in html


def test_a_sales_rep_sees_only_their_own_imports_and_their_rejected_rows(
    client, sales_rep, marketer
):
    theirs = ImportJobFactory(status=ImportStatus.DONE, created_by=marketer)
    ImportRowError.objects.create(
        job=theirs, row_number=2, email="never.imported@example.nl", errors={"email": ["x"]}
    )
    client.force_login(sales_rep)

    assert client.get(reverse("imports:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("imports:errors", args=[theirs.pk])).status_code == 404
    assert "never.imported" not in client.get(reverse("imports:upload")).content.decode()
