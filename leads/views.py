from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from leads.filters import (
    LIST_COLUMNS,
    Cursor,
    EventCursor,
    InvalidCursor,
    LeadFilter,
    keyset_page,
    possible_owners,
    timeline_page,
)
from leads.forms import EMAIL_TAKEN, AssignOwnerForm, ExportForm, ExportScope, LeadProfileForm
from leads.models import Lead, Source, Stage
from leads.services.assignment import assign_owner
from leads.services.export import export_leads_csv
from leads.services.profile import update_lead_profile

view_lead_required = permission_required("leads.view_lead", raise_exception=True)
change_lead_required = permission_required("leads.change_lead", raise_exception=True)
assign_leads_required = permission_required("leads.assign_leads", raise_exception=True)
export_leads_required = permission_required("leads.export_leads", raise_exception=True)

# A chain of merges longer than this is a data error, not something to follow forever.
MAX_MERGE_HOPS = 20


def _htmx_target(request: HttpRequest) -> str | None:
    """The id of the element an htmx request will swap, or None for a whole page.

    A history restore asks for the whole page, as a visitor without JavaScript does.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return htmx.target


def _next_url(request: HttpRequest, default: str) -> str:
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


def _url(path: str, query: str = "", **params: Cursor | EventCursor) -> str:
    """`path` with the query string `query` plus the encoded cursors in `params`."""
    data = QueryDict(query, mutable=True)
    for name, cursor in params.items():
        data[name] = cursor.encode()
    return f"{path}?{data.urlencode()}" if data else path


def _survivor(lead: Lead) -> Lead:
    """The active lead that `lead` was (perhaps through other merged leads) merged into."""
    for _hop in range(MAX_MERGE_HOPS):
        if lead.merged_into_id is None:
            break
        lead = Lead.objects.only("pk", "merged_into_id").get(pk=lead.merged_into_id)
    return lead


def _label_choices(leads: list[Lead]) -> None:
    # Once per page, not get_stage_display() per row: that rebuilds the whole choices
    # mapping on every call, a noticeable share of the time a page of rows takes.
    stages = {value: str(label) for value, label in Stage.choices}
    sources = {value: str(label) for value, label in Source.choices}
    for lead in leads:
        lead.stage_label = stages.get(lead.stage, lead.stage)
        lead.source_label = sources.get(lead.source, lead.source)


@view_lead_required
@vary_on_headers("HX-Request")
def lead_list(request: HttpRequest) -> HttpResponse:
    """Active leads, filtered and sorted as the query string says, one keyset page at a time."""
    leads = Lead.objects.active().select_related("owner").only(*LIST_COLUMNS)
    owners = list(possible_owners())
    filterset = LeadFilter(request.GET, queryset=leads, request=request, owners=owners)
    order = filterset.sort_order
    try:
        cursor = Cursor.decode(request.GET["cursor"]) if request.GET.get("cursor") else None
    except InvalidCursor:
        cursor = None  # a mangled link shows the first page rather than an error
    page = keyset_page(filterset.qs, order=order, cursor=cursor, stages=filterset.stages)
    _label_choices(page.leads)
    query = filterset.query_string()
    list_url = reverse("leads:list")
    assign_form = (
        AssignOwnerForm(auto_id="assign-%s", owners=owners)
        if request.user.has_perm("leads.assign_leads")
        else None
    )
    can_export = request.user.has_perm("leads.export_leads")
    context = {
        "filter": filterset,
        "page": page,
        "query": query,
        "sort_order": order,
        "current_url": request.get_full_path(),
        "next_url": _url(list_url, query, cursor=page.next_cursor) if page.next_cursor else None,
        "previous_url": _url(list_url, query, cursor=page.previous_cursor)
        if page.previous_cursor
        else None,
        "first_url": _url(list_url, query) if cursor else None,
        "assign_form": assign_form,
        "can_export": can_export,
        # Tick boxes and the action bar only for someone who may do something with them.
        "bulk_actions": assign_form is not None or can_export,
    }
    if _htmx_target(request) == "lead-results":
        response = render(request, "leads/lead_list.html#results", context)
        # The address bar gets the tidy, shareable form of the filters, not the raw form data.
        shown = _url(list_url, query, cursor=cursor) if cursor else _url(list_url, query)
        return push_url(response, shown)
    return render(request, "leads/lead_list.html", context)


@view_lead_required
@vary_on_headers("HX-Request")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.select_related("owner"), pk=pk)
    if lead.merged_into_id is not None:
        messages.info(
            request,
            _("%(email)s was merged into this lead; this is the lead to work with.")
            % {"email": lead.email},
        )
        return redirect("leads:detail", pk=_survivor(lead).pk)
    try:
        before = EventCursor.decode(request.GET["before"]) if request.GET.get("before") else None
    except InvalidCursor:
        before = None
    timeline = timeline_page(lead, before=before)
    context = {
        "lead": lead,
        "timeline": timeline,
        "older_url": _url(request.path, before=timeline.older_cursor)
        if timeline.older_cursor
        else None,
        "is_older_page": before is not None,
    }
    if _htmx_target(request) == "timeline-older":
        return render(request, "leads/lead_detail.html#timeline-events", context)
    context["owner_changes"] = lead.owner_changes.select_related(
        "from_owner", "to_owner", "actor"
    ).order_by("-changed_at", "-id")[:20]
    if request.user.has_perm("leads.assign_leads"):
        context["assign_form"] = AssignOwnerForm(
            auto_id="assign-%s", initial={"owner": lead.owner_id}
        )
    return render(request, "leads/lead_detail.html", context)


@change_lead_required
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.active(), pk=pk)
    # The form writes the posted values onto its instance; show the name as it is saved.
    name = str(lead)
    detail_url = reverse("leads:detail", args=[lead.pk])
    form = LeadProfileForm(
        request.POST if request.method == "POST" else None, instance=lead, cancel_url=detail_url
    )
    if request.method == "POST" and form.is_valid():
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        try:
            update_lead_profile(lead=lead, actor=request.user, changes=changes)
        except IntegrityError as error:
            # Another lead took this address between the form's check and the save.
            if "lead_one_active_per_email" not in str(error):
                raise
            form.add_error("email", EMAIL_TAKEN)
        else:
            messages.success(request, _("Saved."))
            return redirect(detail_url)
    return render(request, "leads/lead_edit.html", {"form": form, "lead": lead, "name": name})


@assign_leads_required
@require_POST
def lead_assign(request: HttpRequest) -> HttpResponse:
    """Give the leads ticked in the list (or the one on its page) to an owner."""
    form = AssignOwnerForm(request.POST)
    if form.is_valid():
        changed = assign_owner(
            leads=form.cleaned_data["lead"],
            owner=form.cleaned_data["owner"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        if changed:
            messages.success(
                request,
                ngettext(
                    "%(count)d lead got a new owner.", "%(count)d leads got a new owner.", changed
                )
                % {"count": changed},
            )
        else:
            messages.info(request, _("Nothing changed: the leads already had that owner."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(_next_url(request, reverse("leads:list")))


@export_leads_required
@require_POST
def lead_export(request: HttpRequest) -> HttpResponse:
    """A CSV file of the ticked leads, or of every lead the list's filters match."""
    form = ExportForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_next_url(request, reverse("leads:list")))
    if form.cleaned_data["scope"] == ExportScope.SELECTED:
        leads = form.cleaned_data["lead"]
        order_by = ["-score", "-id"]
    else:
        # The same filters as the list, so the file holds what the list showed.
        filterset = LeadFilter(
            QueryDict(form.cleaned_data["query"]), queryset=Lead.objects.active(), request=request
        )
        leads = filterset.qs
        order_by = filterset.sort_order.export_ordering()
    response = StreamingHttpResponse(
        export_leads_csv(leads=leads.order_by(*order_by)), content_type="text/csv; charset=utf-8"
    )
    filename = f"leads-{timezone.localtime():%Y-%m-%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
