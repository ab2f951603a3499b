"""The work panel's actions: log a contact, plan and finish tasks, move the lead's stage.

With htmx the panel is swapped in place (a form opens inside it; an answer replaces it);
without, each form is a page of its own that goes back to the lead page (or `next`, such as
the pipeline board). Bad input changes nothing: the form comes back with its errors.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from activities import services
from activities.forms import LOG_LABELS, STAGE_ACTIONS, ActivityForm, StageAction, TaskForm
from activities.models import ActivityKind, Task
from activities.templatetags.activities_tags import available_actions, panel_context
from leads.models import Lead
from scoring.services import (
    TransitionConflict,
    TransitionForbidden,
    TransitionIncomplete,
    TransitionRefused,
)

view_lead_required = permission_required("leads.view_lead", raise_exception=True)
work_required = permission_required("leads.work_sales_queue", raise_exception=True)


def _lead_or_404(pk: int) -> Lead:
    return get_object_or_404(Lead.objects.active().select_related("owner"), pk=pk)


def _next_url(request: HttpRequest, lead: Lead) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("leads:detail", args=[lead.pk])


def _panel(request: HttpRequest, lead: Lead, **kwargs) -> HttpResponse:
    context = panel_context(lead, user=request.user, **kwargs)
    return render(request, "activities/work_panel.html", context)


def _done(request: HttpRequest, lead: Lead, note: str) -> HttpResponse:
    """Success: the fresh panel (htmx), or back where the person came from."""
    if request.htmx:
        lead.refresh_from_db()
        return _panel(request, lead, note=note)
    messages.success(request, note)
    return HttpResponseRedirect(_next_url(request, lead), status=303)


def _form(
    request: HttpRequest, lead: Lead, *, form: forms.Form, title: str, url: str, status: int = 200
) -> HttpResponse:
    """A form to fill in: opened inside the panel (htmx GET), the panel with the form and its
    errors (htmx POST: htmx swaps no 4xx answers), or a page of its own."""
    opened = {"form": form, "title": title, "url": url, "next": _next_url(request, lead)}
    if request.htmx:
        if request.method == "POST":
            return _panel(request, lead, open_form=opened)
        panel_url = reverse("activities:panel", args=[lead.pk])
        context = {"lead": lead, "open_form": opened, "panel_url": panel_url}
        return render(request, "activities/work_panel.html#open-form", context)
    return render(
        request, "activities/form_page.html", {"lead": lead, "open_form": opened}, status=status
    )


def _refused(request: HttpRequest, lead: Lead, message: str, *, status: int) -> HttpResponse:
    """A move that cannot be made: the panel as it is now with the message (htmx), or a page
    saying so."""
    if request.htmx:
        lead.refresh_from_db()
        return _panel(request, lead, error=message)
    return render(
        request,
        "activities/form_page.html",
        {"lead": lead, "error": message, "next": _next_url(request, lead)},
        status=status,
    )


@view_lead_required
@require_safe
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The work panel alone: what htmx swaps back in when a form is cancelled."""
    lead = _lead_or_404(pk)
    if request.htmx:
        return _panel(request, lead)
    return render(request, "activities/panel_page.html", panel_context(lead, user=request.user))


@work_required
@require_http_methods(["GET", "HEAD", "POST"])
def log(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Log a call, e-mail or meeting with the lead."""
    if kind not in ActivityKind.values:
        raise Http404(_("No such kind of contact."))
    lead = _lead_or_404(pk)
    url = reverse("activities:log", args=[lead.pk, kind])
    title = str(LOG_LABELS[ActivityKind(kind)])
    if request.method != "POST":
        return _form(request, lead, form=ActivityForm(kind=kind), title=title, url=url)
    form = ActivityForm(request.POST, kind=kind)
    if not form.is_valid():
        return _form(request, lead, form=form, title=title, url=url, status=400)
    try:
        activity = services.log_activity(
            lead_id=lead.pk,
            kind=kind,
            outcome=form.cleaned_data["outcome"],
            notes=form.cleaned_data["notes"],
            occurred_at=form.cleaned_data["occurred_at"],
            actor=request.user,
        )
    except services.ActivityRefused as refused:
        return _refused(request, lead, str(refused), status=400)
    return _done(
        request,
        lead,
        _("%(kind)s logged: %(outcome)s.")
        % {"kind": activity.get_kind_display(), "outcome": activity.get_outcome_display()},
    )


@work_required
@require_http_methods(["GET", "HEAD", "POST"])
def add_task(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan something to do for the lead, by default for oneself."""
    lead = _lead_or_404(pk)
    url = reverse("activities:add-task", args=[lead.pk])
    title = _("Add a task")
    if request.method != "POST":
        return _form(request, lead, form=TaskForm(user=request.user), title=title, url=url)
    form = TaskForm(request.POST, user=request.user)
    if not form.is_valid():
        return _form(request, lead, form=form, title=title, url=url, status=400)
    try:
        task = services.add_task(
            lead_id=lead.pk,
            title=form.cleaned_data["title"],
            due_at=form.cleaned_data["due_at"],
            assignee=form.cleaned_data["assignee"],
            created_by=request.user,
        )
    except services.ActivityRefused as refused:
        return _refused(request, lead, str(refused), status=400)
    return _done(request, lead, _("Task added: %(title)s.") % {"title": task.title})


@work_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a task done."""
    task = get_object_or_404(Task.objects.select_related("lead"), pk=pk)
    lead = _lead_or_404(task.lead_id)
    try:
        task = services.complete_task(task_id=task.pk, actor=request.user)
    except services.ActivityRefused as refused:
        return _refused(request, lead, str(refused), status=400)
    return _done(request, lead, _("Task done: %(title)s.") % {"title": task.title})


def _stage_action_or_404(name: str) -> StageAction:
    try:
        return STAGE_ACTIONS[name]
    except KeyError:
        raise Http404(_("No such stage action.")) from None


@work_required
@require_http_methods(["GET", "HEAD", "POST"])
def move(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Move the lead on: accept it (BANT), reject it to marketing, make an offer, win or lose
    it. Only its owner or a manager may; accepting an MQL nobody owns makes one its owner.
    The stage the person saw travels along, so a lead moved meanwhile is not moved again:
    the second person learns what happened instead."""
    stage_action = _stage_action_or_404(action)
    lead = _lead_or_404(pk)
    url = reverse("activities:move", args=[lead.pk, stage_action.name])
    title = str(stage_action.label)
    # Someone else's lead: refused before any form. (A lead already moved on is a conflict,
    # told below: that is what the person needs to learn.)
    if lead.stage == stage_action.from_stage and not services.may_move(
        lead, request.user, from_stage=stage_action.from_stage, to_stage=stage_action.to_stage
    ):
        return _refused(request, lead, services.refusal_message(lead), status=403)
    if request.method != "POST":
        if stage_action not in available_actions(lead.stage, request.user):
            return _refused(request, lead, _not_available(lead, stage_action), status=409)
        form = stage_action.form_class(initial={"expected_stage": lead.stage})
        return _form(request, lead, form=form, title=title, url=url)
    form = stage_action.form_class(request.POST)
    if not form.is_valid():
        if "expected_stage" in form.errors:
            return _refused(request, lead, _not_available(lead, stage_action), status=400)
        return _form(request, lead, form=form, title=title, url=url, status=400)
    if form.cleaned_data["expected_stage"] != stage_action.from_stage:
        return _refused(request, lead, _not_available(lead, stage_action), status=409)
    try:
        # Accepting an MQL nobody owns claims it too (see activities.services).
        services.move_lead(
            lead_id=lead.pk,
            from_stage=form.cleaned_data["expected_stage"],
            to_stage=stage_action.to_stage,
            actor=request.user,
            reason=form.reason(),
            details=form.details(),
        )
    except services.MoveRefused as refused:
        return _refused(request, lead, str(refused), status=403)
    except TransitionIncomplete as incomplete:
        field = form.service_fields.get(incomplete.field)
        form.add_error(field if field in form.fields else None, str(incomplete))
        return _form(request, lead, form=form, title=title, url=url, status=400)
    except TransitionConflict as conflict:
        return _refused(request, lead, str(conflict), status=409)
    except TransitionForbidden as forbidden:
        return _refused(request, lead, str(forbidden), status=403)
    except TransitionRefused as refused:
        return _refused(request, lead, str(refused), status=400)
    return _done(
        request,
        lead,
        _("%(name)s is now %(stage)s.")
        % {"name": lead.full_name or lead.email, "stage": stage_action.to_stage.label},
    )


def _not_available(lead: Lead, action: StageAction) -> str:
    return _("“%(action)s” is not possible for this lead: it is %(stage)s.") % {
        "action": action.label,
        "stage": lead.get_stage_display(),
    }
