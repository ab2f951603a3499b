"""Pages and actions of qualification: moving leads between stages by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leads.forms import AddToNurtureForm
from leads.list_actions import back_to_list, report_form_errors
from scoring.bulk import add_to_nurture

change_lead_required = permission_required("leads.change_lead", raise_exception=True)


@change_lead_required
@require_POST
def nurture(request: HttpRequest) -> HttpResponse:
    """Move the leads ticked in the lead list to nurture, with the reason given."""
    form = AddToNurtureForm(request.POST)
    if not form.is_valid():
        report_form_errors(request, form)
        return back_to_list(request)
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
    return back_to_list(request)
