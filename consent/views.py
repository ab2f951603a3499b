"""Admin pages of consent: processing purposes with their notice versions, and the records
of processing with its CSV export."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe

from consent import admin_services
from consent.forms import PurposeForm
from consent.models import Purpose
from leads.services.export import BYTE_ORDER_MARK, neutralise_formula

manage_purposes_required = permission_required("consent.manage_purposes", raise_exception=True)


def _posted_data(request: HttpRequest) -> QueryDict | None:
    # Not `request.POST or None`: a POST with every box unticked is empty and must still bind.
    return request.POST if request.method == "POST" else None


@manage_purposes_required
@require_safe
def purpose_list(request: HttpRequest) -> HttpResponse:
    counts = admin_services.active_consent_counts()
    purposes = list(admin_services.purposes_with_notice_summary())
    for purpose in purposes:
        purpose.active_consents = counts.get(purpose.pk, 0)
    return render(request, "consent/admin/purpose_list.html", {"purposes": purposes})


@manage_purposes_required
def purpose_create(request: HttpRequest) -> HttpResponse:
    form = PurposeForm(_posted_data(request))
    if request.method == "POST" and form.is_valid():
        saved = admin_services.create_purpose(actor=request.user, **form.service_arguments())
        messages.success(
            request,
            _("Purpose %(name)s was created with notice version 1.") % {"name": saved.purpose.name},
        )
        return redirect("consent:purposes")
    return render(
        request, "consent/admin/purpose_form.html", {"form": form, "title": _("New purpose")}
    )


@manage_purposes_required
def purpose_edit(request: HttpRequest, pk: int) -> HttpResponse:
    purpose = get_object_or_404(Purpose, pk=pk)
    form = PurposeForm(_posted_data(request), instance=purpose)
    if request.method == "POST" and form.is_valid():
        saved = admin_services.update_purpose(
            actor=request.user, purpose_id=purpose.pk, **form.service_arguments()
        )
        if saved.new_notice is not None:
            messages.success(
                request,
                _("Saved. The notice is now version %(version)s; earlier versions are kept.")
                % {"version": saved.new_notice.version},
            )
        else:
            messages.success(request, _("Saved. The notice text did not change."))
        return redirect("consent:purposes")
    return render(
        request,
        "consent/admin/purpose_form.html",
        {
            "form": form,
            "purpose": purpose,
            "title": _("Edit purpose %(key)s") % {"key": purpose.key},
        },
    )


@manage_purposes_required
@require_safe
def purpose_notices(request: HttpRequest, pk: int) -> HttpResponse:
    purpose = get_object_or_404(Purpose, pk=pk)
    notices = purpose.notices.select_related("created_by").order_by("-version")
    changes = purpose.changes.select_related("actor")
    return render(
        request,
        "consent/admin/purpose_notices.html",
        {"purpose": purpose, "notices": notices, "changes": changes},
    )


# --- Records of processing ---------------------------------------------------------------------


def _processing_rows() -> tuple[list[Purpose], bool]:
    """The purposes, each with `active_consents` and `applicable_policies`; and whether the
    retention policies are known at all."""
    counts = admin_services.active_consent_counts()
    policies = admin_services.retention_policies_by_purpose()
    purposes = list(admin_services.purposes_with_notice_summary())
    for purpose in purposes:
        purpose.active_consents = counts.get(purpose.pk, 0)
        purpose.applicable_policies = (
            [*policies.get(purpose.pk, []), *policies.get(None, [])] if policies else []
        )
    return purposes, policies is not None


@manage_purposes_required
@require_safe
def processing(request: HttpRequest) -> HttpResponse:
    purposes, retention_known = _processing_rows()
    return render(
        request,
        "consent/admin/processing.html",
        {"purposes": purposes, "retention_known": retention_known},
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return str(value)
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat()
    return neutralise_formula(str(value))


@manage_purposes_required
@require_safe
def processing_export(request: HttpRequest) -> HttpResponse:
    purposes, retention_known = _processing_rows()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="records-of-processing-{stamp}.csv"'
    response.write(BYTE_ORDER_MARK)
    writer = csv.writer(response)
    writer.writerow(
        [
            "key", "name_en", "name_nl", "legal_basis", "is_marketing", "is_profiling",
            "requires_double_opt_in", "is_active", "current_notice_version", "notice_versions",
            "current_notice_at", "retention", "active_consents",
        ]
    )  # fmt: skip
    for purpose in purposes:
        retention = (
            "; ".join(
                ngettext(
                    "%(name)s (%(months)s month)", "%(name)s (%(months)s months)", policy.months
                )
                % {"name": policy.name, "months": policy.months}
                for policy in purpose.applicable_policies
            )
            if retention_known
            else _("not defined yet")
        )
        writer.writerow(
            [
                _cell(value)
                for value in (
                    purpose.key, purpose.name_en, purpose.name_nl, purpose.legal_basis,
                    purpose.is_marketing, purpose.is_profiling, purpose.requires_double_opt_in,
                    purpose.is_active, purpose.current_version, purpose.notice_count,
                    purpose.current_notice_at, retention, purpose.active_consents,
                )
            ]
        )  # fmt: skip
    return response
