"""Actions of the consent panel on the lead page: record a choice the person made verbally
(on the phone, at a fair), and resend a double opt-in e-mail.

POST only. With htmx the panel is swapped in place; without, the browser goes back to the
lead page. Bad input changes nothing and answers with the error.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from consent import confirmation as confirmations
from consent.models import ConsentMethod, Purpose
from consent.services import ConsentGiven, record_consents
from consent.subjects import live_subject_id
from consent.templatetags.consent_tags import panel_context

record_consent_required = permission_required("consent.record_consent", raise_exception=True)


class VerbalChoiceForm(forms.Form):
    purpose = forms.CharField(max_length=50)
    choice = forms.ChoiceField(
        choices=[("grant", gettext_lazy("Grant")), ("withdraw", gettext_lazy("Withdraw"))]
    )

    def clean(self):
        cleaned = super().clean()
        key, choice = cleaned.get("purpose"), cleaned.get("choice")
        if key and choice:
            # A withdrawal stays possible for a purpose that is no longer asked (art. 7(3)).
            purposes = Purpose.objects.grantable() if choice == "grant" else Purpose.objects.all()
            if not purposes.filter(key=key).exists():
                raise forms.ValidationError(
                    _("Consent for this purpose cannot be recorded: %(key)s") % {"key": key}
                )
        return cleaned


class ResendForm(forms.Form):
    purpose = forms.CharField(max_length=50)


def _live_subject_or_404(subject_id: int) -> int:
    # Only a lead that exists, and not one merged away: its consent lives with the survivor.
    if live_subject_id(subject_id) != subject_id:
        raise Http404(_("No such lead."))
    return subject_id


def _form_error(form: forms.Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _answer(
    request: HttpRequest, subject_id: int, *, note: str = "", error: str = ""
) -> HttpResponse:
    """The panel again (htmx), or back to the lead page; a refusal answers 400 without htmx
    and an error in the panel with it (htmx swaps no 4xx answers)."""
    context = panel_context(subject_id, user=request.user, note=note, error=error)
    if request.htmx:
        return render(request, "consent/consent_panel.html", context)
    if error:
        return render(request, "consent/panel_page.html", context, status=400)
    messages.success(request, note)
    response = HttpResponseRedirect(reverse("leads:detail", args=[subject_id]))
    response.status_code = 303
    return response


@record_consent_required
@require_POST
def record(request: HttpRequest, subject_id: int) -> HttpResponse:
    """Record a grant or withdrawal the person gave verbally, in the user's name."""
    subject_id = _live_subject_or_404(subject_id)
    form = VerbalChoiceForm(request.POST)
    if not form.is_valid():
        return _answer(request, subject_id, error=_form_error(form))
    granted = form.cleaned_data["choice"] == "grant"
    (record,) = record_consents(
        subject_id=subject_id,
        given=[ConsentGiven(form.cleaned_data["purpose"], granted)],
        method=ConsentMethod.VERBAL,
        source=f"recorded by {request.user.get_username()}",
        recorded_by=request.user,
    )
    note = (
        _("Verbal grant recorded: %(purpose)s.")
        if granted
        else _("Verbal withdrawal recorded: %(purpose)s.")
    )
    return _answer(request, subject_id, note=note % {"purpose": record.purpose.name})


@record_consent_required
@require_POST
def resend(request: HttpRequest, subject_id: int) -> HttpResponse:
    """Send the person a new confirmation link for a pending double opt-in request."""
    subject_id = _live_subject_or_404(subject_id)
    form = ResendForm(request.POST)
    if not form.is_valid():
        return _answer(request, subject_id, error=_form_error(form))
    pending = (
        confirmations.ConsentConfirmation.objects.for_subject(subject_id)
        .open()
        .filter(purpose__key=form.cleaned_data["purpose"])
        .select_related("purpose")
        .first()
    )
    if pending is None:
        return _answer(request, subject_id, error=_("No confirmation is awaited for this purpose."))
    try:
        confirmations.resend(confirmation_id=pending.pk)
    except confirmations.ResendRefused as refused:
        return _answer(request, subject_id, error=refused.message)
    note = _("A new confirmation e-mail is on its way: %(purpose)s.")
    return _answer(request, subject_id, note=note % {"purpose": pending.purpose.name})
