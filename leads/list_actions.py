"""What the lead list's bulk actions share, wherever their view lives: the way back to the
list the person came from, and form errors told as messages above it."""

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def next_url(request: HttpRequest, default: str) -> str:
    """The posted `next` address when it is ours (never an open redirect), else `default`."""
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


def back_to_list(request: HttpRequest) -> HttpResponseRedirect:
    return redirect(next_url(request, reverse("leads:list")))


def report_form_errors(request: HttpRequest, form: Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
