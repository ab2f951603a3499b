from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from consent.models import ConsentMethod, ConsentRecord
from consent.services import ConsentGiven, active_purpose_keys, current_notices
from leads.filters import (
    LIST_COLUMNS,
    Cursor,
    EventCursor,
    InvalidCursor,
    LeadFilter,
    has_marketing_consent,
    keyset_page,
    possible_owners,
    timeline_page,
)
from leads.forms import (
    EMAIL_TAKEN,
    AddToNurtureForm,
    AssignOwnerForm,
    ExportForm,
    ExportScope,
    FindDuplicateForm,
    LeadProfileForm,
    ManualEntryForm,
)
from leads.list_actions import back_to_list, report_form_errors
from leads.models import EventType, Lead, LeadMerge, Source, Stage
from leads.services.assignment import assign_owner
from leads.services.capture import (
    NULLABLE_PROFILE_FIELDS,
    PROFILE_FIELDS,
    CaptureContext,
    CaptureRejected,
    capture_lead,
)
from leads.services.export import export_campaign_csv, export_leads_csv
from leads.services.merge import MergeRefused, merge_leads
from leads.services.profile import LeadMerged, update_lead_profile

add_lead_required = permission_required("leads.add_lead", raise_exception=True)
merge_leads_required = permission_required("leads.merge_leads", raise_exception=True)
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
    # Posted to scoring's view: the stage service lives there, and leads does not import it.
    nurture_form = AddToNurtureForm() if request.user.has_perm("leads.change_lead") else None
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
        "nurture_form": nurture_form,
        # Tick boxes and the action bar only for someone who may do something with them.
        "bulk_actions": assign_form is not None or can_export or nurture_form is not None,
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
    context["merges"] = _merge_history(lead)
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
        except LeadMerged as merged:
            messages.warning(request, _("This lead was merged meanwhile; nothing was saved."))
            return redirect("leads:detail", pk=merged.survivor_id)
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
        report_form_errors(request, form)
    return back_to_list(request)


@export_leads_required
@require_POST
def lead_export(request: HttpRequest) -> HttpResponse:
    """A CSV file of the ticked leads, or of every lead the list's filters match."""
    form = ExportForm(request.POST)
    if not form.is_valid():
        report_form_errors(request, form)
        return back_to_list(request)
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
    leads = leads.order_by(*order_by)
    if form.cleaned_data["for_campaign"]:
        if not form.cleaned_data["confirmed"]:
            return _campaign_export_check(request, form, leads)
        lines, name = export_campaign_csv(leads=leads), "campaign"
    else:
        lines, name = export_leads_csv(leads=leads), "leads"
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    filename = f"{name}-{timezone.localtime():%Y-%m-%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _campaign_export_check(request: HttpRequest, form: ExportForm, leads) -> HttpResponse:
    """Before a campaign file: how many of the leads it leaves out for lack of marketing
    consent, so nobody wonders where they went."""
    total = leads.count()
    consented = leads.filter(has_marketing_consent()).count()
    return render(
        request,
        "leads/campaign_export.html",
        {
            "form_data": form.data,
            "total": total,
            "consented": consented,
            "left_out": total - consented,
            "lead_ids": [lead.pk for lead in form.cleaned_data.get("lead") or []],
        },
    )


@add_lead_required
def lead_create(request: HttpRequest) -> HttpResponse:
    """A lead typed in by hand, with the consents the person gave the one typing."""
    notices = dict(sorted(current_notices(active_purpose_keys()).items()))
    form = ManualEntryForm(
        request.POST if request.method == "POST" else None,
        notices=notices,
        cancel_url=reverse("leads:list"),
    )
    if request.method == "POST" and form.is_valid():
        username = request.user.get_username()
        consents = [
            ConsentGiven(notice.purpose.key, True, notice_id=notice.pk)
            for notice in form.ticked_notices()
        ]
        context = CaptureContext(
            channel=Source.MANUAL,
            event_type=EventType.CAPTURE,
            event_properties={"entered_by": username},
            actor=request.user,
            consent_method=ConsentMethod.VERBAL,
            # Evidence kept in the records, so in one language whoever reads it later.
            consent_source=f"entered by {username}",
        )
        try:
            result = capture_lead(data=form.lead_data(), consents=consents, context=context)
        except CaptureRejected as rejected:
            for field, errors in rejected.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            if result.created:
                messages.success(request, _("The lead was saved."))
            else:
                messages.success(
                    request,
                    _("An existing lead was updated: a lead with this e-mail address was known."),
                )
            return redirect("leads:detail", pk=result.lead_id)
    return render(request, "leads/lead_create.html", {"form": form})


@merge_leads_required
def lead_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Find a duplicate of this lead, compare the two, and on confirmation fold it in."""
    survivor = get_object_or_404(Lead.objects.active().select_related("owner"), pk=pk)
    if request.method == "POST":
        form = FindDuplicateForm(request.POST, survivor=survivor)
        if form.is_valid():
            duplicate = form.cleaned_data["duplicate"]
            try:
                merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=request.user)
            except MergeRefused as refused:
                form.add_error("duplicate", str(refused))
            else:
                messages.success(
                    request,
                    _("%(email)s was merged into this lead.") % {"email": duplicate.email},
                )
                return redirect("leads:detail", pk=survivor.pk)
    else:
        form = FindDuplicateForm(
            request.GET if "duplicate" in request.GET else None, survivor=survivor
        )
        if form.is_bound and form.is_valid():
            duplicate = form.cleaned_data["duplicate"]
            context = {
                "lead": survivor,
                "duplicate": duplicate,
                "comparison": _merge_comparison(survivor, duplicate),
                "moving": _rows_that_move(duplicate),
            }
            return render(request, "leads/lead_merge_confirm.html", context)
    return render(request, "leads/lead_merge.html", {"form": form, "lead": survivor})


@dataclass(frozen=True)
class MergeRow:
    """One line of the side-by-side comparison before a merge."""

    label: str
    survivor: str
    duplicate: str
    outcome: str  # "keeps", "gains", "same", or "" when neither has a value

    @property
    def outcome_label(self) -> str:
        return {
            "keeps": _("This lead's value stays"),
            "gains": _("Filled in from the duplicate"),
            "same": _("The same"),
        }.get(self.outcome, "")


def _shown_value(lead: Lead, name: str) -> str:
    value = getattr(lead, name)
    if name == "country":
        return value.name if value else ""
    if name == "owner":
        return (value.get_full_name() or value.username) if value else ""
    if value in ("", None):
        return ""
    if Lead._meta.get_field(name).choices:
        return str(getattr(lead, f"get_{name}_display")())
    return str(value)


def _merge_comparison(survivor: Lead, duplicate: Lead) -> list[MergeRow]:
    """What the survivor ends up with, field by field, as `merge_leads` decides it: its own
    values stay, its blank profile fields (and a missing owner) are filled from the
    duplicate; address, source, stage and score stay the survivor's."""
    fillable = {*PROFILE_FIELDS, *NULLABLE_PROFILE_FIELDS, "owner"}
    names = [
        "email", "first_name", "last_name", "phone", "company", "job_title", "seniority",
        "company_size", "industry", "country", "budget", "need", "timeframe", "owner",
        "source", "campaign", "stage", "score",
    ]  # fmt: skip
    rows = []
    for name in names:
        mine, theirs = _shown_value(survivor, name), _shown_value(duplicate, name)
        if mine == theirs:
            outcome = "same" if mine else ""
        elif not mine and theirs and name in fillable:
            outcome = "gains"
        else:
            outcome = "keeps"
        label = Lead._meta.get_field(name).verbose_name
        rows.append(MergeRow(str(capfirst(label)), mine, theirs, outcome))
    return rows


def _rows_that_move(duplicate: Lead) -> list[tuple[str, int]]:
    """How many rows of each kind name the duplicate: `merge_leads` moves all of them."""
    counts = []
    for relation in Lead._meta.related_objects:
        if relation.related_model is LeadMerge or not relation.field.concrete:
            continue
        if relation.one_to_one or relation.many_to_many:
            continue
        count = relation.related_model._base_manager.filter(
            **{relation.field.name: duplicate}
        ).count()
        if not count:
            continue
        if relation.related_model is Lead:
            label = _("Records merged into the duplicate before")
        else:
            label = str(capfirst(relation.related_model._meta.verbose_name_plural))
        counts.append((label, count))
    consents = ConsentRecord.objects.for_subject(duplicate.pk).count()
    if consents:
        counts.append((str(capfirst(ConsentRecord._meta.verbose_name_plural)), consents))
    return counts


def _moved_labels() -> dict[str, str]:
    """A merge names what it moved in the language of whoever merged; this maps those names
    in every language we speak to the reader's."""
    names = [
        relation.related_model._meta.verbose_name_plural for relation in Lead._meta.related_objects
    ]
    names.append(ConsentRecord._meta.verbose_name_plural)
    known: dict[str, Any] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            known |= {str(name): name for name in names}
    return {key: str(name) for key, name in known.items()}


def _merge_history(lead: Lead) -> list[LeadMerge]:
    """The latest merges into `lead`, newest first, each with what it moved."""
    merges = list(lead.merges.select_related("actor").order_by("-merged_at", "-id")[:20])
    labels = _moved_labels() if merges else {}
    for merge in merges:
        merge.moved_rows = [
            (capfirst(labels.get(key, key)), count) for key, count in merge.moved.items() if count
        ]
    return merges
