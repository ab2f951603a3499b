"""The sales workspace: the hand-over queue, a rep's own leads, the assignment rules and
teams, away status and the managers' view of first-contact SLA breaches."""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from activities.models import Task
from leads.list_actions import next_url
from leads.models import Lead
from sales import services
from sales.forms import AssignmentRuleForm, AwayForm, PeriodForm, QueueFilterForm, SalesTeamForm
from sales.models import AssignmentRule, AwayStatus, SalesTeam
from sales.sla import WORKING_STAGES, handed_over_between, status_of, with_hand_over

work_queue_required = permission_required("leads.work_sales_queue", raise_exception=True)
manage_required = permission_required("sales.manage_assignment", raise_exception=True)
breaches_required = permission_required("sales.view_sla_breaches", raise_exception=True)

QUEUE_PAGE_SIZE = 25
MY_LEADS_PAGE_SIZE = 25
QUEUE_COLUMNS = [
    "pk", "first_name", "last_name", "email", "company", "country", "source", "score",
    "stage", "owner_id", "created_at",
]  # fmt: skip


# --- The queue -------------------------------------------------------------------------------


@work_queue_required
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    """Unowned MQLs, highest score first; on equal scores the newest first, which is the
    order of the lead_stage_score index (stage, -score, -id): a page is one index range
    read, however many leads wait."""
    form = QueueFilterForm(request.GET or None)
    leads = services.queue_leads()
    after = None
    if form.is_bound and form.is_valid():
        if form.cleaned_data["country"]:
            leads = leads.filter(country=form.cleaned_data["country"])
        if form.cleaned_data["source"]:
            leads = leads.filter(source=form.cleaned_data["source"])
        after = form.after_key()
    if after is not None:
        # A row comparison, not an OR: it is one range of the index.
        leads = leads.filter(TupleLessThan(Tuple(F("score"), F("id")), after))
    rows = list(leads.order_by("-score", "-pk").only(*QUEUE_COLUMNS)[: QUEUE_PAGE_SIZE + 1])
    next_query = None
    if len(rows) > QUEUE_PAGE_SIZE:
        rows = rows[:QUEUE_PAGE_SIZE]
        query = request.GET.copy()
        query["after"] = f"{rows[-1].score}_{rows[-1].pk}"
        next_query = query.urlencode()
    first_query = None
    if after is not None:
        query = request.GET.copy()
        query.pop("after", None)
        first_query = query.urlencode() or "-"
    context = {
        "form": form,
        "leads": rows,
        "next_query": next_query,
        "first_query": first_query,
        "can_assign": request.user.has_perm("sales.manage_assignment"),
    }
    template = "sales/queue.html#results" if request.htmx and not request.htmx.boosted else None
    return render(request, template or "sales/queue.html", context)


@work_queue_required
@require_safe
def explain(request: HttpRequest, pk: int) -> HttpResponse:
    """A lead's score, criterion by criterion: opened in place from a queue row."""
    lead = get_object_or_404(Lead.objects.active(), pk=pk)
    return render(request, "sales/queue.html#explanation", {"lead": lead})


@work_queue_required
@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    """Take an MQL from the queue. From htmx the row is replaced by the outcome; otherwise
    the queue is shown again with a message."""
    lead = Lead.objects.active().filter(pk=pk).only(*QUEUE_COLUMNS).first()
    try:
        claimed = services.claim_lead(lead_id=pk, user=request.user)
    except services.ClaimRefused as refusal:
        if request.htmx:
            return render(
                request,
                "sales/queue.html#claim-outcome",
                {"lead": lead, "pk": pk, "error": str(refusal)},
            )
        messages.error(request, str(refusal))
        return redirect(next_url(request, reverse("leads:queue")))
    if request.htmx:
        return render(
            request, "sales/queue.html#claim-outcome", {"lead": claimed, "pk": pk, "error": ""}
        )
    messages.success(request, _("%(lead)s is yours now.") % {"lead": claimed})
    return redirect(next_url(request, reverse("leads:queue")))


@manage_required
@require_POST
def assign_now(request: HttpRequest) -> HttpResponse:
    """Run the assignment rules over the queue now instead of waiting for the next minute."""
    count = services.assign_by_rules(actor=request.user)
    messages.success(
        request,
        ngettext(
            "%(count)d lead was assigned by the rules.",
            "%(count)d leads were assigned by the rules.",
            count,
        )
        % {"count": count},
    )
    return redirect("leads:queue")


# --- My leads --------------------------------------------------------------------------------


@work_queue_required
@require_safe
def my_leads(request: HttpRequest) -> HttpResponse:
    """The rep's leads being worked, uncontacted ones first with the oldest hand-over on top,
    each with its next open task and its first-contact SLA clock."""
    next_task = Task.objects.open().filter(lead=OuterRef("pk")).order_by("due_at", "pk")
    leads = (
        with_hand_over(
            Lead.objects.active().owned_by(request.user).filter(stage__in=WORKING_STAGES)
        )
        .annotate(
            next_task_title=Subquery(next_task.values("title")[:1]),
            next_task_due=Subquery(next_task.values("due_at")[:1]),
        )
        .only("pk", "first_name", "last_name", "email", "company", "stage", "score", "owner_id")
        .order_by(
            F("first_contact_at").asc(nulls_first=True),
            F("handed_over_at").asc(nulls_last=True),
            "pk",
        )
    )
    page = Paginator(leads, MY_LEADS_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        (lead, status_of(lead.handed_over_at, lead.first_contact_at, now=now))
        for lead in page.object_list
    ]
    away = AwayStatus.objects.filter(user=request.user).first()
    return render(
        request,
        "sales/my_leads.html",
        {
            "page": page,
            "rows": rows,
            "away": away if away and away.is_away_on(timezone.localdate()) else None,
            "away_form": AwayForm(),
        },
    )


@work_queue_required
@require_POST
def away(request: HttpRequest) -> HttpResponse:
    """Mark oneself (or, for a manager, a team member) away or back."""
    form = AwayForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(next_url(request, reverse("leads:my-leads")))
    user = request.user
    if form.cleaned_data["user"] and form.cleaned_data["user"] != request.user.pk:
        if not request.user.has_perm("sales.manage_assignment"):
            raise PermissionDenied
        user = User.objects.filter(pk=form.cleaned_data["user"]).first()
        if user is None:
            messages.error(request, _("This person does not exist (any more)."))
            return redirect(next_url(request, reverse("leads:my-leads")))
    services.set_away(
        user=user,
        away=form.cleaned_data["away"],
        until=form.cleaned_data["until"],
        actor=request.user,
    )
    name = user.get_full_name() or user.username
    if form.cleaned_data["away"]:
        messages.success(
            request, _("%(name)s is away: no new leads by the rules.") % {"name": name}
        )
    else:
        messages.success(request, _("%(name)s is back and gets leads again.") % {"name": name})
    return redirect(next_url(request, reverse("leads:my-leads")))


# --- Assignment rules and teams --------------------------------------------------------------


@manage_required
@require_safe
def rules(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sales/rules.html",
        {"rules": AssignmentRule.objects.in_order().select_related("team")},
    )


@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a rule (placed last) or change one."""
    rule = get_object_or_404(AssignmentRule, pk=pk) if pk is not None else None
    form = AssignmentRuleForm(request.POST if request.method == "POST" else None, instance=rule)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if rule is None:
            saved.position = services.next_rule_position()
        saved.save()
        messages.success(request, _("The rule was saved."))
        return redirect("sales:rules")
    return render(request, "sales/rule_form.html", {"form": form, "rule": rule})


@manage_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(AssignmentRule, pk=pk)
    rule.delete()
    messages.success(request, _("The rule was deleted."))
    return redirect("sales:rules")


@manage_required
@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a rule one place up or down: rules are tried in order."""
    rule = get_object_or_404(AssignmentRule, pk=pk)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        messages.error(request, _("Say whether to move the rule up or down."))
    else:
        services.move_rule(rule=rule, up=direction == "up")
    return redirect("sales:rules")


@manage_required
@require_safe
def teams(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    away_ids = set(AwayStatus.objects.away_on(today).values_list("user_id", flat=True))
    return render(
        request,
        "sales/teams.html",
        {
            "teams": SalesTeam.objects.prefetch_related("members"),
            "away_ids": away_ids,
            "away_form": AwayForm(),
        },
    )


@manage_required
@require_http_methods(["GET", "HEAD", "POST"])
def team_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    team = get_object_or_404(SalesTeam, pk=pk) if pk is not None else None
    form = SalesTeamForm(request.POST if request.method == "POST" else None, instance=team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The team was saved."))
        return redirect("sales:teams")
    return render(request, "sales/team_form.html", {"form": form, "team": team})


# --- SLA breaches ----------------------------------------------------------------------------


def _period_bounds(start, end) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time(0), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone),
    )


@breaches_required
@require_safe
def breaches(request: HttpRequest) -> HttpResponse:
    """Per rep, the leads handed over in a period and how their first contact went; with
    `rep`, that rep's late and overdue leads."""
    from sales.sla import sla_summary

    form = PeriodForm(request.GET)
    if not form.is_valid():
        # The invalid form is shown with its errors; the figures are the default period's.
        shown = form
        form = PeriodForm({})
        form.is_valid()
        messages.error(request, _("The period was not valid; showing the last 30 days."))
    else:
        shown = form
    start, end = _period_bounds(form.cleaned_data["start"], form.cleaned_data["end"])
    summary = sla_summary(start, end)
    rep = None
    drill = []
    if form.cleaned_data.get("rep"):
        rep = User.objects.filter(pk=form.cleaned_data["rep"]).first()
        if rep is None:
            messages.error(request, _("This person does not exist (any more)."))
        else:
            now = timezone.now()
            leads = handed_over_between(start, end, owner=rep).order_by("handed_over_at")
            for lead in leads:
                status = status_of(lead.handed_over_at, lead.first_contact_at, now=now)
                if status.met is False or status.overdue:
                    drill.append((lead, status))
    return render(
        request,
        "sales/breaches.html",
        {
            "form": shown,
            "summary": summary,
            "rep": rep,
            "drill": drill,
            "start": form.cleaned_data["start"],
            "end": form.cleaned_data["end"],
        },
    )
