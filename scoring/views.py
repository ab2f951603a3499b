"""Pages and actions of qualification: moving leads between stages by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leads.forms import AddToNurtureForm
from scoring.bulk import add_to_nurture

change_lead_required = permission_required("leads.change_lead", raise_exception=True)


def _next_url(request: HttpRequest, default: str) -> str:
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


@change_lead_required
@require_POST
def nurture(request: HttpRequest) -> HttpResponse:
    """Move the leads ticked in the lead list to nurture, with the reason given."""
    form = AddToNurtureForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_next_url(request, reverse("leads:list")))
    moved, refusals = add_to_nurture(
        lead_ids=form.cleaned_data["lead"],
        actor=request.user,
        reason=form.cleaned_data["nurture_reason"],
    )
    if moved:
        messages.success(
            request,
            ngettext("%(count)d lead moved to nurture.", "%(count)d leads moved to nurture.", moved)
            % {"count": moved},
        )
    if refusals:
        messages.warning(
            request,
            ngettext(
                "%(count)d lead was not moved: %(reasons)s",
                "%(count)d leads were not moved: %(reasons)s",
                len(refusals),
            )
            % {"count": len(refusals), "reasons": "; ".join(refusals)},
        )
    return redirect(_next_url(request, reverse("leads:list")))
