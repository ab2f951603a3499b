import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from imports import services
from imports.forms import MappingForm, UploadForm
from imports.models import ImportJob
from imports.parsing import safe_cell

# Importing is adding leads, in bulk.
add_lead_required = permission_required("leads.add_lead", raise_exception=True)
ERRORS_SHOWN = 100


def _own_job(request: HttpRequest, pk: int) -> ImportJob:
    """An import only its uploader may change; colleagues who add leads may look at it."""
    job = get_object_or_404(ImportJob, pk=pk)
    if job.created_by_id != request.user.pk:
        raise PermissionDenied
    return job


def _problems(job: ImportJob, entries) -> list[dict]:
    """Row errors as rows of a table: the row, the address given, and column: message."""
    return [
        {
            "row": entry["row"],
            "email": entry["email"],
            "problems": [
                (job.column_label(key), message)
                for key, field_messages in entry["errors"].items()
                for message in field_messages
            ],
        }
        for entry in entries
    ]


def _row_errors(job: ImportJob, limit: int | None = None) -> list[dict]:
    """The import's refused rows once it started; the dry run's before that."""
    if job.started_at is None:
        entries = job.preview.get("errors", [])
    else:
        entries = [
            {"row": error.row_number, "email": error.email, "errors": error.errors}
            for error in job.row_errors.all()[:limit]
        ]
    return _problems(job, entries[:limit])


def _visible_jobs(user):
    """Imports hold the addresses of people who were never imported (their rejected rows):
    the uploader sees their own, and only roles that may export every lead see all."""
    if user.has_perm("leads.export_leads"):
        return ImportJob.objects.all()
    return ImportJob.objects.filter(created_by=user)


@add_lead_required
def upload(request: HttpRequest):
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            job = services.create_import_job(
                upload=form.cleaned_data["file"], inspection=form.inspection, user=request.user
            )
            return redirect("imports:mapping", pk=job.pk)
    else:
        form = UploadForm()
    jobs = _visible_jobs(request.user).select_related("created_by").recent()[:20]
    return render(
        request,
        "imports/upload.html",
        {"form": form, "jobs": jobs, "max_size": settings.IMPORT_MAX_UPLOAD_BYTES},
    )


@add_lead_required
def mapping(request: HttpRequest, pk: int):
    job = _own_job(request, pk)
    if not job.can_change_mapping:
        messages.info(request, _("The columns of this import can no longer be changed."))
        return redirect("imports:detail", pk=job.pk)
    form = MappingForm(
        request.POST if request.method == "POST" else None,
        headers=job.headers,
        purposes=services.importable_purposes(),
        proposed=job.mapping or services.proposed_mapping(headers=job.headers),
    )
    if request.method == "POST" and form.is_valid():
        services.choose_mapping(job=job, mapping=form.mapping(), user=request.user)
        return redirect("imports:detail", pk=job.pk)
    samples = services.sample_values(job=job)
    columns = [
        (form[form.field_name(index)], samples[index] if index < len(samples) else [])
        for index in range(len(job.headers))
    ]
    return render(request, "imports/mapping.html", {"job": job, "form": form, "columns": columns})


@add_lead_required
def detail(request: HttpRequest, pk: int):
    job = get_object_or_404(_visible_jobs(request.user).select_related("created_by"), pk=pk)
    context = {
        "job": job,
        "is_uploader": job.created_by_id == request.user.pk,
        "row_errors": _row_errors(job, ERRORS_SHOWN),
    }
    # htmx polls only the status while the job runs; the page works without it too.
    template = "imports/job_detail.html#status" if request.htmx else "imports/job_detail.html"
    return render(request, template, context)


@add_lead_required
@require_POST
def start(request: HttpRequest, pk: int):
    job = _own_job(request, pk)
    try:
        services.start_import(job=job)
    except services.ImportStateError as error:
        messages.error(request, str(error))
    return redirect("imports:detail", pk=job.pk)


@add_lead_required
def errors_csv(request: HttpRequest, pk: int):
    job = get_object_or_404(_visible_jobs(request.user), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    # The byte order mark makes Excel read UTF-8; the file's own separator suits its Excel.
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=job.delimiter)
    writer.writerow([pgettext("CSV", "Row"), _("E-mail address"), _("Column"), _("Problem")])
    for entry in _row_errors(job):
        for label, message in entry["problems"]:
            cells = (entry["row"], entry["email"], label, message)
            writer.writerow([safe_cell(cell) for cell in cells])
    return response
