"""Pages and actions of qualification: moving leads between stages by hand, and the
admins' criteria editor with its preview, publishing and re-score progress."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from leads.forms import AddToNurtureForm
from leads.list_actions import back_to_list, report_form_errors
from leads.models import EventType, Lead
from scoring import services
from scoring.bulk import add_to_nurture
from scoring.engine import RULE_FIELDS, split_list
from scoring.forms import CriterionFormSet, PolicyForm, StageDefinitionFormSet, field_label
from scoring.models import CriteriaVersion, Criterion, CriterionKind, Operator, RescoreRun
from scoring.preview import current_preview, impact_from_json, preview_impact

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


# --- Qualification criteria: reading, editing a draft, preview, publishing --------------------

view_criteria_required = permission_required("scoring.view_criteriaversion", raise_exception=True)
manage_criteria_required = permission_required("scoring.manage_criteria", raise_exception=True)


@view_criteria_required
@require_safe
def criteria(request: HttpRequest) -> HttpResponse:
    """The criteria in force, in plain words, and every version there has been."""
    active = CriteriaVersion.objects.active()
    return render(
        request,
        "scoring/criteria.html",
        {
            "active": active,
            "groups": criteria_in_words(active) if active else [],
            "policy": policy_in_words(active) if active else [],
            "definitions": active.definitions.order_by("id") if active else [],
            "versions": CriteriaVersion.objects.select_related("published_by", "created_by"),
            "draft": CriteriaVersion.objects.draft(),
            "can_manage": request.user.has_perm("scoring.manage_criteria"),
        },
    )


@manage_criteria_required
@require_http_methods(["GET", "HEAD", "POST"])
def draft(request: HttpRequest) -> HttpResponse:
    """The way to the draft: a POST starts one (a copy of the active version) when there is
    none; a GET goes to the draft or offers to start one."""
    if request.method == "POST":
        version = services.start_draft(actor=request.user)
        return redirect("scoring:edit", pk=version.pk)
    version = CriteriaVersion.objects.draft()
    if version is not None:
        return redirect("scoring:edit", pk=version.pk)
    return render(request, "scoring/draft.html", {"version": None})


@manage_criteria_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft's stage policy, criteria and stage definitions, all or nothing."""
    version = get_object_or_404(CriteriaVersion, pk=pk)
    if not version.is_draft:
        messages.error(request, _("Only a draft can be edited; start a draft to change this."))
        return redirect("scoring:criteria")
    data = request.POST if request.method == "POST" else None
    policy = PolicyForm(data, instance=version)
    rules = CriterionFormSet(data, instance=version, prefix="criteria")
    definitions = StageDefinitionFormSet(data, version=version)
    if data is not None and all([policy.is_valid(), rules.is_valid(), definitions.is_valid()]):
        with transaction.atomic():
            # Publishing takes the same lock: a draft published meanwhile is not changed.
            locked = CriteriaVersion.objects.select_for_update().get(pk=version.pk)
            if not locked.is_draft:
                messages.error(request, _("This version was published meanwhile; nothing saved."))
                return redirect("scoring:criteria")
            policy.save()
            rules.save()
            definitions.save()
        messages.success(request, _("The draft was saved."))
        return redirect("scoring:edit", pk=version.pk)
    return render(
        request,
        "scoring/draft.html",
        {"version": version, "policy": policy, "rules": rules, "definitions": definitions},
    )


@manage_criteria_required
@require_safe
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What publishing the draft would do to every lead, worked out without saving."""
    version = get_object_or_404(CriteriaVersion, pk=pk)
    if not version.is_draft:
        messages.error(request, _("Only a draft can be previewed."))
        return redirect("scoring:criteria")
    if Lead.objects.active().count() <= settings.SCORING_PREVIEW_INLINE_LEADS:
        impact = preview_impact(version)
    else:
        background = current_preview(version)
        if background.finished_at is None:
            return render(
                request, "scoring/preview_pending.html", {"version": version, "preview": background}
            )
        impact = impact_from_json(background.result)
    backtests = [
        {
            "title": _("Draft version %(number)s") % {"number": version.number},
            "test": impact.backtest,
        }
    ]
    if impact.active_backtest is not None:
        backtests.append(
            {
                "title": _("Active version %(number)s")
                % {"number": impact.active_backtest.version_number},
                "test": impact.active_backtest,
            }
        )
    return render(
        request,
        "scoring/preview.html",
        {"version": version, "impact": impact, "backtests": backtests},
    )


@manage_criteria_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Make the draft the active version and start re-scoring every lead with it."""
    version = get_object_or_404(CriteriaVersion, pk=pk)
    try:
        run = services.publish(version=version, actor=request.user)
    except services.VersionRefused as refused:
        messages.error(request, str(refused))
        if version.is_draft:
            return redirect("scoring:edit", pk=version.pk)
        return redirect("scoring:criteria")
    messages.success(
        request,
        _("Version %(number)s is active; every lead is being scored with it.")
        % {"number": version.number},
    )
    return redirect("scoring:run", pk=run.pk)


@manage_criteria_required
@require_safe
def run(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of a re-score; htmx asks for the progress part only, every 2 s."""
    rescore = get_object_or_404(RescoreRun.objects.select_related("version"), pk=pk)
    template = "scoring/run.html#progress" if request.htmx else "scoring/run.html"
    return render(request, template, {"run": rescore})


# --- Criteria in plain words -----------------------------------------------------------------


def criteria_in_words(version: CriteriaVersion) -> list[dict]:
    """The version's criteria by kind, each as one sentence ("Page view, URL contains
    /pricing, 3x within 14 days: +20, fades by half every 14 days")."""
    groups = {kind: [] for kind in CriterionKind}
    for criterion in version.criteria.order_by("position", "id"):
        groups[criterion.kind].append(
            {"criterion": criterion, "words": criterion_in_words(criterion)}
        )
    return [{"kind": kind, "label": kind.label, "criteria": rows} for kind, rows in groups.items()]


def _points(points: int) -> str:
    return f"{points:+d}"


def criterion_in_words(criterion: Criterion) -> str:
    if criterion.kind == CriterionKind.ENGAGEMENT:
        return _engagement_in_words(criterion)
    operator = Operator(criterion.operator).label if criterion.operator else ""
    if criterion.operator in (Operator.EMAIL_DOMAIN_IN, Operator.EMAIL_DOMAIN_NOT_IN):
        subject = field_label("email")
    else:
        subject = (
            field_label(criterion.field) if criterion.field in RULE_FIELDS else criterion.field
        )
    value = ", ".join(split_list(criterion.value)) if criterion.operator in (
        Operator.IN_LIST, Operator.EMAIL_DOMAIN_IN, Operator.EMAIL_DOMAIN_NOT_IN
    ) else criterion.value.strip()  # fmt: skip
    # Templates rather than joined words, so a translation can put them in its own order.
    values = {"field": subject, "operator": operator, "value": value}
    if criterion.operator == Operator.IS_SET:
        words = _("%(field)s %(operator)s") % values
    else:
        words = _("%(field)s %(operator)s %(value)s") % values
    if criterion.kind == CriterionKind.FIT:
        words = _("%(rule)s: %(points)s") % {"rule": words, "points": _points(criterion.points)}
    return words


def _engagement_in_words(criterion: Criterion) -> str:
    if criterion.event_type in EventType.values:
        parts = [str(EventType(criterion.event_type).label)]
    else:
        parts = [str(_("Any event"))]
    if criterion.url_contains:
        parts.append(_("URL contains %(text)s") % {"text": criterion.url_contains})
    if criterion.window_days:
        parts.append(
            _("%(count)sx within %(days)s days")
            % {"count": criterion.min_count, "days": criterion.window_days}
        )
    elif criterion.min_count > 1:
        parts.append(_("%(count)sx at any time") % {"count": criterion.min_count})
    if criterion.per_occurrence:
        points = _("%(points)s each") % {"points": _points(criterion.points)}
        if criterion.cap is not None:
            points = _("%(points)s each, at most %(cap)s") % {
                "points": _points(criterion.points),
                "cap": criterion.cap,
            }
    else:
        points = _points(criterion.points)
    words = _("%(rule)s: %(points)s") % {
        "rule": ", ".join(str(part) for part in parts),
        "points": points,
    }
    if criterion.half_life_days:
        words = _("%(rule)s, fades by half every %(days)s days") % {
            "rule": words,
            "days": criterion.half_life_days,
        }
    return words


def policy_in_words(version: CriteriaVersion) -> list[str]:
    """The stage policy of a version as a few sentences."""
    lines = []
    if version.mql_threshold is not None:
        threshold = version.mql_threshold
        lines.append(_("A lead becomes an MQL at a score of %(score)s.") % {"score": threshold})
    named = [c.name for c in version.criteria.all() if c.counts_towards_mql]
    if version.mql_criteria_needed:
        sentence = _(
            "A lead becomes an MQL when it meets %(needed)s of these %(count)s criteria: %(names)s."
        )
        values = {"needed": version.mql_criteria_needed, "count": len(named)}
        lines.append(sentence % {**values, "names": ", ".join(named)})
    if version.mql_threshold is None and not version.mql_criteria_needed:
        lines.append(_("No lead becomes an MQL by itself: there is no threshold nor K of N rule."))
    must = [c.name for c in version.criteria.all() if c.must_have]
    if must:
        lines.append(_("No MQL without: %(names)s.") % {"names": ", ".join(must)})
    if version.downgrade_on_decay:
        lines.append(_("Leads move back when their score fades."))
    else:
        lines.append(_("Leads keep their stage when their score fades."))
    return lines
