"""The admin pages for web forms, and the public page visitors fill in."""

from contextlib import nullcontext
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from leads.services.capture import CaptureRejected
from leads.validation import LeadDataForm
from webforms import services
from webforms.forms import HONEYPOT_FIELD, TOKEN_FIELD, SubmissionForm, WebFormForm
from webforms.models import VISITOR_FIELDS, BlockReason, WebForm

view_webforms_required = permission_required("webforms.view_webform", raise_exception=True)
manage_webforms_required = permission_required("webforms.manage_webforms", raise_exception=True)


def _posted_data(request: HttpRequest) -> QueryDict | None:
    # A POST with every box cleared is empty and must still bind the form.
    return request.POST if request.method == "POST" else None


# --- Admin pages ------------------------------------------------------------------------------


@view_webforms_required
def form_list(request: HttpRequest) -> HttpResponse:
    web_forms = WebForm.objects.order_by("name", "id")
    return render(request, "webforms/form_list.html", {"web_forms": web_forms})


@view_webforms_required
def form_detail(request: HttpRequest, pk: int) -> HttpResponse:
    web_form = get_object_or_404(WebForm.objects.prefetch_related("purposes"), pk=pk)
    hosted_url = request.build_absolute_uri(web_form.get_absolute_url())
    since = timezone.now() - timedelta(days=7)
    blocked = [
        {"label": BlockReason(row["reason"]).label, "count": row["count"]}
        for row in web_form.blocked_submissions.filter(blocked_at__gte=since)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by("reason")
    ]
    return render(
        request,
        "webforms/form_detail.html",
        {
            "web_form": web_form,
            "hosted_url": hosted_url,
            "embed_code": embed_code(web_form, hosted_url=hosted_url),
            "field_labels": [
                LeadDataForm.base_fields[name].label
                for name in ["email", *VISITOR_FIELDS]
                if name == "email" or name in web_form.lead_fields
            ],
            "required_purposes": set(web_form.required_purposes.all()),
            "blocked": blocked,
            "can_manage": request.user.has_perm("webforms.manage_webforms"),
        },
    )


def embed_code(web_form: WebForm, *, hosted_url: str) -> str:
    """The snippet a website owner pastes into a page. A plain string on purpose: the page
    shows it as text to copy, so the template escapes it once more."""
    return (
        f'<iframe src="{escape(hosted_url)}?embed=1" title="{escape(web_form.name)}" '
        'width="100%" height="720" loading="lazy" style="border:0;max-width:40rem"></iframe>'
    )


@manage_webforms_required
def form_create(request: HttpRequest) -> HttpResponse:
    form = WebFormForm(_posted_data(request))
    if request.method == "POST" and form.is_valid():
        web_form = form.save(commit=False)
        web_form.created_by = request.user
        web_form.save()
        form.save_m2m()
        messages.success(request, _("The form %(name)s was created.") % {"name": web_form.name})
        return redirect("webforms:detail", pk=web_form.pk)
    return render(request, "webforms/form_edit.html", {"form": form, "title": _("New web form")})


@manage_webforms_required
def form_edit(request: HttpRequest, pk: int) -> HttpResponse:
    web_form = get_object_or_404(WebForm, pk=pk)
    form = WebFormForm(_posted_data(request), instance=web_form)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return redirect("webforms:detail", pk=web_form.pk)
    return render(
        request,
        "webforms/form_edit.html",
        {"form": form, "title": web_form.name, "web_form": web_form},
    )


@view_webforms_required
@require_GET
def form_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The form as visitors see it, also while inactive; it cannot be sent from here."""
    web_form = get_object_or_404(WebForm, pk=pk)
    notices = services.notices_to_show(web_form=web_form)
    form = SubmissionForm(web_form=web_form, notices=notices)
    return render(
        request,
        "webforms/public_form.html",
        {"web_form": web_form, "form": form, "preview": True, "embedded": False},
    )


# --- The public page --------------------------------------------------------------------------


@login_not_required
@csrf_exempt  # An embedded form gets no CSRF cookie: the signed token and Origin check replace it.
@require_http_methods(["GET", "HEAD", "POST"])
def public_form(request: HttpRequest, slug: str) -> HttpResponse:
    web_form = get_object_or_404(WebForm.objects.active(), slug=slug)
    embedded = request.GET.get("embed") == "1"
    with _visitor_language(request, embedded):
        if request.method == "POST":
            response = _submit(request, web_form, embedded)
        else:
            notices = services.notices_to_show(web_form=web_form)
            token = services.render_token_for(web_form=web_form, notices=notices)
            form = SubmissionForm(web_form=web_form, notices=notices)
            response = _render_form(request, web_form, form, token, embedded)
        return _allow_framing(response, web_form, embedded)


@login_not_required
@require_safe
def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    web_form = get_object_or_404(WebForm.objects.active(), slug=slug)
    embedded = request.GET.get("embed") == "1"
    with _visitor_language(request, embedded):
        response = render(
            request,
            "webforms/thanks.html",
            {"web_form": web_form, "embedded": embedded, **_language_links(request, embedded)},
        )
        return _allow_framing(response, web_form, embedded)


def _submit(request: HttpRequest, web_form: WebForm, embedded: bool) -> HttpResponse:
    ip_address = get_client_ip_address(request)
    user_agent = request.headers.get("User-Agent", "")
    try:
        token = services.screen_submission(
            web_form=web_form,
            token_value=request.POST.get(TOKEN_FIELD, ""),
            honeypot=request.POST.get(HONEYPOT_FIELD, ""),
            origin=_request_origin(request),
            own_origin=f"{request.scheme}://{request.get_host()}",
            embedded=embedded,
            ip_address=ip_address,
            user_agent=user_agent,
        )
    except services.SubmissionBlocked:
        # Exactly what a person gets after sending, so a bot cannot tell it was caught.
        return _after_sending(request, web_form, embedded)

    notices = services.notices_to_show(web_form=web_form, shown_ids=token.notice_ids)
    form = SubmissionForm(request.POST, web_form=web_form, notices=notices)
    if form.is_valid():
        try:
            services.submit_web_form(
                web_form=web_form,
                data=form.lead_data(),
                ticked_purposes=form.ticked_purposes(),
                token=token,
                page_url=request.build_absolute_uri(),
                form_url=request.build_absolute_uri(web_form.get_absolute_url()),
                utm={name: request.GET.get(name, "") for name in services.UTM_FIELDS},
                ip_address=ip_address,
                user_agent=user_agent,
            )
        except CaptureRejected as rejected:
            for field, errors in rejected.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            return _after_sending(request, web_form, embedded)
    # Shown again with the same notices and the original render time: the visitor has been
    # reading since then, and correcting one field may well take less than the minimum.
    token = services.render_token_for(
        web_form=web_form, notices=notices, rendered_at=token.rendered_at
    )
    return _render_form(request, web_form, form, token, embedded)


def _render_form(
    request: HttpRequest,
    web_form: WebForm,
    form: SubmissionForm,
    token: services.RenderToken,
    embedded: bool,
) -> HttpResponse:
    return render(
        request,
        "webforms/public_form.html",
        {
            "web_form": web_form,
            "form": form,
            "token": token.sign(),
            "token_field": TOKEN_FIELD,
            "embedded": embedded,
            "preview": False,
            **_language_links(request, embedded),
        },
    )


def _after_sending(request: HttpRequest, web_form: WebForm, embedded: bool) -> HttpResponse:
    # Only ever to the address the admin configured, never to one named in the request.
    if web_form.redirect_url:
        url = web_form.redirect_url
    else:
        query = {key: request.GET[key] for key in ("embed", "lang") if key in request.GET}
        url = reverse("webforms:thanks", kwargs={"slug": web_form.slug})
        url = f"{url}?{urlencode(query)}" if query else url
    response = HttpResponseRedirect(url)
    response.status_code = 303  # See other: the browser follows with a GET.
    return response


def _request_origin(request: HttpRequest) -> str:
    """The origin the browser says the POST came from; the Referer's when there is no Origin
    (older browsers) or it is "null" (privacy settings). Empty when neither is sent, which
    no browser does: such a post is refused."""
    origin = request.headers.get("Origin", "")
    if origin and origin != "null":
        return origin.lower()
    parts = urlsplit(request.headers.get("Referer", ""))
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _allow_framing(response: HttpResponse, web_form: WebForm, embedded: bool) -> HttpResponse:
    if embedded:
        # LocaleMiddleware would name the cookie's language; this page may be in another.
        response.headers["Content-Language"] = translation.get_language()
        # For this response only: the CSP middleware reads `_csp_replace`, and the flag is
        # what @xframe_options_exempt sets. The hosted page keeps DENY and 'none'.
        response._csp_replace = {"frame-ancestors": web_form.frame_ancestors()}
        response.xframe_options_exempt = True
    if web_form.redirect_origin:
        # Browsers apply form-action to the redirect after a POST as well.
        response._csp_update = {"form-action": [web_form.redirect_origin]}
    return response


def _visitor_language(request: HttpRequest, embedded: bool):
    """An embedded form cannot rely on the language cookie (third-party cookies are
    blocked), so it takes `?lang=` from the embed code or its own language links."""
    lang = request.GET.get("lang", "")
    if embedded and lang in dict(settings.LANGUAGES):
        request.LANGUAGE_CODE = lang
        return translation.override(lang)
    return nullcontext()


def _language_links(request: HttpRequest, embedded: bool) -> dict:
    if not embedded:
        return {}
    links = []
    for code, name in settings.LANGUAGES:
        query = request.GET.copy()
        query["lang"] = code
        links.append({"code": code, "name": name, "url": f"{request.path}?{query.urlencode()}"})
    return {"language_links": links}
