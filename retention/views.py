"""The admins' retention pages: the policies with what each would erase now, the dry-run
report (also as CSV), and the button that erases what has expired."""

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from leads.models import Stage
from retention import services
from retention.forms import ApplyForm, RetentionPolicyForm
from retention.models import RetentionPolicy, RetentionRun

manage_retention_required = permission_required("retention.manage_retention", raise_exception=True)
RUNS_SHOWN = 50


def _run_in_progress() -> bool:
    recent = timezone.now() - services.STALE_RUN
    return RetentionRun.objects.unfinished().filter(started_at__gte=recent).exists()


@manage_retention_required
@require_safe
def policies(request: HttpRequest) -> HttpResponse:
    """Every policy with how many leads it would erase now, and the runs so far."""
    # The runs' progress (htmx, every few seconds) needs no report.
    reports = {} if request.htmx else {r.policy.pk: r for r in services.dry_run()}
    rows = [
        {"policy": policy, "report": reports.get(policy.pk)}
        for policy in RetentionPolicy.objects.select_related("purpose").order_by("name", "id")
    ]
    template = "retention/policies.html#runs" if request.htmx else "retention/policies.html"
    return render(
        request,
        template,
        {
            "rows": rows,
            "runs": RetentionRun.objects.select_related("actor")[:RUNS_SHOWN],
            "run_in_progress": _run_in_progress(),
        },
    )


def _policy_form(request: HttpRequest, policy: RetentionPolicy | None) -> HttpResponse:
    form = RetentionPolicyForm(request.POST if request.method == "POST" else None, instance=policy)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(
            request, _("The retention policy “%(name)s” was saved.") % {"name": saved.name}
        )
        return redirect("retention:policies")
    title = _("New retention policy") if policy is None else policy.name
    return render(request, "retention/policy_form.html", {"form": form, "title": title})


@manage_retention_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_create(request: HttpRequest) -> HttpResponse:
    return _policy_form(request, None)


@manage_retention_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_form(request, get_object_or_404(RetentionPolicy, pk=pk))


@manage_retention_required
@require_safe
def dry_run(request: HttpRequest) -> HttpResponse:
    """What would be erased now and why, per active policy; nothing is changed."""
    reports = services.dry_run()
    return render(
        request,
        "retention/dry_run.html",
        {
            "reports": reports,
            "total": sum(report.count for report in reports),
            "form": ApplyForm(),
            "run_in_progress": _run_in_progress(),
            "examples_shown": services.EXAMPLES,
        },
    )


def _csv_rows(now) -> Iterator[list]:
    labels = dict(Stage.choices)
    yield [_("Policy"), _("Lead id"), _("Stage"), _("Last activity"), _("Reason")]
    for policy in RetentionPolicy.objects.active():
        reason = services.policy_reason(policy, now)
        rows = services.report_rows(services.expired_leads(policy, now))
        for pk, stage, activity in rows.iterator(chunk_size=2000):
            when = timezone.localtime(activity).isoformat(timespec="seconds")
            yield [policy.name, pk, labels.get(stage, stage), when, reason]


class _Echo:
    def write(self, value: str) -> str:
        return value


@manage_retention_required
@require_safe
def dry_run_csv(request: HttpRequest) -> HttpResponse:
    """The dry-run report with every expired lead: ids and stages, no personal data."""
    now = timezone.now()
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(now)), content_type="text/csv; charset=utf-8"
    )
    filename = f"retention-dry-run-{timezone.localtime(now):%Y-%m-%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@manage_retention_required
@require_POST
def apply(request: HttpRequest) -> HttpResponse:
    """Erase what has expired now, after the admin confirmed; a worker does the erasing."""
    form = ApplyForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("retention:dry-run")
    try:
        services.request_retention_run(actor=request.user)
    except services.RunInProgress as refused:
        messages.warning(request, str(refused))
        return redirect("retention:policies")
    messages.success(
        request,
        _("Erasing expired leads has started; the run below shows how many were erased."),
    )
    return redirect("retention:policies")
