"""Pages of data-subject requests: export a person's data, erase a person, and the log."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from leads.models import Lead
from privacy import services
from privacy.forms import EraseForm
from privacy.models import Channel, SubjectRequest

export_required = permission_required("privacy.export_subject", raise_exception=True)
erase_required = permission_required("privacy.erase_subject", raise_exception=True)

REQUESTS_SHOWN = 200


def _subject(pk: int) -> Lead:
    # A merged-away lead is the same person as its survivor: act on the person.
    lead = get_object_or_404(Lead, pk=pk)
    return services.subject_leads(lead)[0]


@export_required
@require_POST
def export(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything held on the person, as a zip download."""
    lead = _subject(pk)
    content = services.export_subject(lead=lead, actor=request.user, channel=Channel.WEB)
    response = HttpResponse(content, content_type="application/zip")
    name = services.export_file_name(lead)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@erase_required
@require_http_methods(["GET", "POST"])
def erase(request: HttpRequest, pk: int) -> HttpResponse:
    """What erasing removes, and the typed confirmation that does it."""
    lead = _subject(pk)
    form = EraseForm(request.POST if request.method == "POST" else None, lead=lead)
    if request.method == "POST" and form.is_valid():
        log = services.erase_subject(
            lead=lead,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            channel=Channel.WEB,
        )
        # No name or address in the message: messages are stored in the session or a cookie.
        messages.success(
            request,
            _("The person was erased everywhere. Reference: %(reference)s")
            % {"reference": log.reference},
        )
        return redirect("leads:list")
    leads = services.subject_leads(lead)
    return render(
        request,
        "privacy/erase.html",
        {"lead": lead, "form": form, "merged": leads[1:]},
        status=400 if form.is_bound else 200,
    )


@require_safe
def requests(request: HttpRequest) -> HttpResponse:
    """Every export and erasure: what, by whom, how, when. Never whose data."""
    if not (
        request.user.has_perm("privacy.export_subject")
        or request.user.has_perm("privacy.erase_subject")
    ):
        raise PermissionDenied
    rows = SubjectRequest.objects.newest_first().select_related("actor")[:REQUESTS_SHOWN]
    return render(request, "privacy/requests.html", {"rows": rows, "limit": REQUESTS_SHOWN})
