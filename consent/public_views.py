"""Pages a data subject reaches through a signed link in a message, without logging in:
confirm a grant (double opt-in), withdraw with one click, and the preference page.

A GET never changes anything: mail scanners and link previews fetch links. Each page shows
one button, and the POST acts. Bad links get a clear page and change nothing: 400 for a link
tampered with, 410 for one expired or used up, or when no data about the person is left.
"""

from axes.helpers import get_client_ip_address
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from consent import confirmation as confirmations
from consent import links
from consent.models import ConsentMethod, NoticeVersion, Purpose
from consent.services import (
    ConsentGiven,
    ConsentStatus,
    UnknownPurpose,
    consent_state,
    record_consents,
    withdraw_consents,
)
from consent.subjects import live_subject_id

GONE = 410


def _problem(request: HttpRequest, kind: str, status: int) -> HttpResponse:
    """One page for every link that cannot be used, saying why."""
    return render(request, "consent/public/problem.html", {"kind": kind}, status=status)


def _bad_link(request: HttpRequest) -> HttpResponse:
    return _problem(request, "bad_link", 400)


def _expired_link(request: HttpRequest) -> HttpResponse:
    return _problem(request, "expired_link", GONE)


def _subject_gone(request: HttpRequest) -> HttpResponse:
    return _problem(request, "subject_gone", GONE)


def _client(request: HttpRequest) -> dict:
    return {
        "ip_address": get_client_ip_address(request),
        "user_agent": request.headers.get("User-Agent", "")[:500],
    }


def _see_other(request: HttpRequest) -> HttpResponse:
    response = HttpResponseRedirect(request.get_full_path())
    response.status_code = 303
    return response


# --- Confirm (double opt-in) -----------------------------------------------------------------


_CONFIRM_STATUS = {
    confirmations.ConfirmResult.CONFIRMED: 200,
    confirmations.ConfirmResult.ALREADY_CONFIRMED: GONE,
    confirmations.ConfirmResult.EXPIRED: GONE,
    confirmations.ConfirmResult.CLOSED: GONE,
    confirmations.ConfirmResult.SUBJECT_GONE: GONE,
}


def _confirm_page(request, token, confirmation, state, *, done=False, resent=False, error=""):
    return render(
        request,
        "consent/public/confirm.html",
        {
            "token": token,
            "confirmation": confirmation,
            "state": str(state),
            "done": done,
            "resent": resent,
            "error": error,
        },
        status=_CONFIRM_STATUS[state] if not error else 429,
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the notice and one "Confirm" button. POST: confirm."""
    try:
        confirmation = confirmations.confirmation_for_token(token)
    except links.BadLink:
        return _bad_link(request)
    if request.method != "POST":
        state = confirmations.state_of(confirmation)
        return _confirm_page(request, token, confirmation, state)
    outcome = confirmations.confirm(token, **_client(request))
    done = outcome.result == confirmations.ConfirmResult.CONFIRMED
    return _confirm_page(request, token, outcome.confirmation, outcome.result, done=done)


@login_not_required
@never_cache
@require_POST
def resend(request: HttpRequest, token: str) -> HttpResponse:
    """ "Send me a new link", offered when a confirm link has expired."""
    try:
        confirmation = confirmations.confirmation_for_token(token)
    except links.BadLink:
        return _bad_link(request)
    state = confirmations.state_of(confirmation)
    if state != confirmations.ConfirmResult.EXPIRED:
        return _confirm_page(request, token, confirmation, state)
    try:
        confirmations.resend(confirmation_id=confirmation.pk)
    except confirmations.ResendRefused as refused:
        return _confirm_page(request, token, confirmation, state, error=refused.message)
    return render(request, "consent/public/resent.html", {"purpose": confirmation.purpose})


# --- Withdraw ----------------------------------------------------------------------------------


def _one_click(request: HttpRequest) -> bool:
    """RFC 8058: a mail client's one-click unsubscribe POSTs exactly this body."""
    return request.POST.get("List-Unsubscribe") == "One-Click"


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """The CSRF check this view is exempted from, for every POST but a one-click one."""
    return CsrfViewMiddleware(lambda _request: HttpResponse()).process_view(request, None, (), {})


def _withdrawable(subject_id: int, purpose_key: str | None) -> list:
    """The states of the purposes the link withdraws where a withdrawal would change them."""
    states = consent_state(subject_id)
    return [
        state
        for key, state in states.items()
        if (key == purpose_key if purpose_key else state.purpose.is_marketing)
        and state.status in (ConsentStatus.GRANTED, ConsentStatus.PENDING)
    ]


@login_not_required
@csrf_exempt  # Checked below, except for the RFC 8058 one-click POST mail clients send.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the link withdraws and one "Withdraw" button. POST: withdraw at once."""
    try:
        link = links.read_withdrawal_token(token)
    except links.ExpiredLink:
        return _expired_link(request)
    except links.BadLink:
        return _bad_link(request)
    subject_id = live_subject_id(link.subject_id)
    if subject_id is None:
        return _subject_gone(request)
    purpose = None
    if link.purpose_key is not None:
        purpose = Purpose.objects.filter(key=link.purpose_key).first()
        if purpose is None:
            return _bad_link(request)
    context = {"token": token, "purpose": purpose, "withdrawn": []}
    if request.method == "POST":
        one_click = _one_click(request)
        if not one_click:
            refusal = _csrf_refusal(request)
            if refusal is not None:
                return refusal
        try:
            written = withdraw_consents(
                subject_id=subject_id,
                purpose_keys=None if purpose is None else [purpose.key],
                method=ConsentMethod.PREFERENCE_PAGE,
                source="one-click unsubscribe (RFC 8058)" if one_click else "withdrawal link",
                evidence="withdrawal-link",
                **_client(request),
            )
        except UnknownPurpose:
            return _bad_link(request)
        context |= {"done": True, "withdrawn": [record.purpose for record in written]}
    else:
        context["standing"] = [
            state.purpose for state in _withdrawable(subject_id, purpose and purpose.key)
        ]
    context["preferences_url"] = links.preferences_url(subject_id)
    return render(request, "consent/public/withdraw.html", context)


# --- The preference page -----------------------------------------------------------------------


class PreferenceForm(forms.Form):
    """One change on the preference page: grant or withdraw one purpose."""

    purpose = forms.CharField(max_length=50)
    choice = forms.ChoiceField(
        choices=[("grant", gettext_lazy("Give consent")), ("withdraw", gettext_lazy("Withdraw"))]
    )
    notice = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        cleaned = super().clean()
        key, choice = cleaned.get("purpose"), cleaned.get("choice")
        if not key or not choice:
            return cleaned
        purposes = Purpose.objects.grantable() if choice == "grant" else Purpose.objects.all()
        purpose = purposes.filter(key=key).first()
        if purpose is None:
            raise forms.ValidationError(_("This purpose cannot be changed here."))
        cleaned["purpose_obj"] = purpose
        notice_id = cleaned.get("notice")
        if choice == "grant":
            # The wording the person read on the page; the newest when the form did not say.
            notice = NoticeVersion.objects.filter(pk=notice_id, purpose=purpose).first()
            if notice_id and notice is None:
                raise forms.ValidationError(_("This notice does not belong to this purpose."))
            cleaned["notice_obj"] = notice or purpose.current_notice()
        return cleaned


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Each purpose with the person's status and the current notice, and a button to change
    it. A grant here needs no further e-mail: the signed link proves the address."""
    try:
        subject_id = links.read_preferences_token(token)
    except links.ExpiredLink:
        return _expired_link(request)
    except links.BadLink:
        return _bad_link(request)
    subject_id = live_subject_id(subject_id)
    if subject_id is None:
        return _subject_gone(request)
    form = None
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            _change_preference(request, subject_id, form.cleaned_data)
            return _see_other(request)
    rows = [
        {"state": state, "notice": state.purpose.current_notice()}
        for state in consent_state(subject_id).values()
    ]
    return render(
        request,
        "consent/public/preferences.html",
        {"token": token, "rows": rows, "form": form},
        status=400 if form is not None else 200,
    )


def _change_preference(request: HttpRequest, subject_id: int, data: dict) -> None:
    purpose = data["purpose_obj"]
    common = {
        "subject_id": subject_id,
        "method": ConsentMethod.PREFERENCE_PAGE,
        "source": "preference page",
        "evidence": "preference-link",
        **_client(request),
    }
    if data["choice"] == "withdraw":
        if withdraw_consents(purpose_keys=[purpose.key], **common):
            messages.success(request, _("Withdrawn: %(purpose)s.") % {"purpose": purpose.name})
        else:
            messages.info(
                request,
                _("%(purpose)s was not granted; nothing changed.") % {"purpose": purpose.name},
            )
        return
    state = consent_state(subject_id).get(purpose.key)
    if state is not None and state.status == ConsentStatus.GRANTED and state.confirmation is None:
        messages.info(request, _("%(purpose)s was granted already.") % {"purpose": purpose.name})
        return
    record_consents(
        given=[ConsentGiven(purpose.key, True, notice_id=data["notice_obj"].pk)], **common
    )
    messages.success(request, _("Thank you. Granted: %(purpose)s.") % {"purpose": purpose.name})
