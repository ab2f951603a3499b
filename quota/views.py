"""The lead quota calculator ("Bereken je leadquota"), saved targets and the public switch.

The calculator reads everything from GET, so a calculation is a URL to share. Anonymous
visitors use it only while an admin has made it public, and then see measured rates (as
percentages, over the default window) but no lead counts, nothing about the pipeline or any
lead.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from quota import services
from quota.calculation import Quota, compute_quota
from quota.forms import RATE_LABELS, PublishForm, QuotaForm, TargetForm
from quota.models import RATE_KEYS, CalculatorSettings, QuotaTarget

manage_targets_required = permission_required("quota.manage_targets", raise_exception=True)
publish_required = permission_required("quota.publish_calculator", raise_exception=True)

# What the calculator counts at each stage, in the plural.
STAGE_NAMES = {
    "contact": gettext_lazy("Contacts"),
    "lead": gettext_lazy("Leads"),
    "mql": gettext_lazy("MQLs"),
    "sql": gettext_lazy("SQLs"),
    "opportunity": gettext_lazy("Opportunities"),
    "won": gettext_lazy("Won deals"),
}
# The rate key whose step leads out of each stage.
RATE_OUT_OF = {from_stage: key for key, (from_stage, _to) in services.RATE_STEPS.items()}
QUERY_FIELDS = ("revenue_target", "average_deal_size", "period", "rates_since", "rates_until")


def sees_everything(user) -> bool:
    """Users who plan with the funnel see the calculator in full, with the pipeline."""
    return user.has_perm("funnel.view_dashboard") or user.has_perm("quota.manage_targets")


@login_not_required
@require_safe
def quota(request: HttpRequest) -> HttpResponse:
    """The calculator: from a revenue target, deal size and period to the leads needed."""
    if not request.user.is_authenticated:
        # Checked here, not by the middleware: an admin opens and closes it at run time.
        if not CalculatorSettings.is_public():
            return redirect_to_login(request.get_full_path())
        public = True
    elif sees_everything(request.user):
        public = False
    else:
        raise PermissionDenied
    asked = any(name in request.GET for name in ("revenue_target", "average_deal_size", "period"))
    form = QuotaForm(request.GET if asked else None, public=public)
    return render(request, "quota/calculator.html", _calculator(request, form, public=public))


@dataclass
class RateRow:
    key: str
    label: str
    field: object
    measured: services.MeasuredRate
    # The percentage used: typed in, or measured; None when neither exists.
    used: Decimal | None
    overridden: bool


def _rate_rows(form: QuotaForm, measured: dict[str, services.MeasuredRate]) -> list[RateRow]:
    overrides = form.overrides() if form.is_bound and form.is_valid() else {}
    rows = []
    for key in RATE_KEYS:
        typed = overrides.get(key)
        rows.append(
            RateRow(
                key=key,
                label=RATE_LABELS[key],
                field=form[f"rate_{key}"],
                measured=measured[key],
                used=typed if typed is not None else measured[key].percent,
                overridden=typed is not None,
            )
        )
    return rows


def _exact_rate(row: RateRow) -> Fraction | None:
    # A measured rate is used exactly; a typed one as typed.
    if row.overridden:
        return Fraction(row.used) / 100
    return row.measured.rate


def _calculator(
    request: HttpRequest, form: QuotaForm, *, public: bool, target_form: TargetForm | None = None
) -> dict:
    since, until = form.rate_window()
    measured = services.measured_rates(since=since, until=until)
    rows = _rate_rows(form, measured)
    context = {
        "form": form,
        "public": public,
        "rates": rows,
        "rates_since": since,
        "rates_until": until,
        "quota": None,
        "can_save": not public and request.user.has_perm("quota.manage_targets"),
    }
    if form.is_bound and form.is_valid():
        result = compute_quota(
            revenue_target=form.cleaned_data["revenue_target"],
            average_deal_size=form.cleaned_data["average_deal_size"],
            months=form.months,
            rates={row.key: _exact_rate(row) for row in rows},
        )
        context |= _result(result, rows)
        if not public:
            context["gap"] = _gap(result, services.leads_in_stage())
        if context["can_save"]:
            context["target_form"] = target_form or TargetForm(
                initial={"name": _("Target from %(date)s") % {"date": until.isoformat()}}
            )
            context["hidden_query"] = _query(form)
    return context


def _result(result: Quota, rows: list[RateRow]) -> dict:
    by_key = {row.key: row for row in rows}
    stages = [
        {
            "stage": stage,
            "name": STAGE_NAMES[stage.stage],
            "below_name": STAGE_NAMES[stage.below] if stage.below else "",
            "rate_row": by_key.get(RATE_OUT_OF.get(stage.stage, "")),
        }
        for stage in result.stages
    ]
    blocked = None
    if result.blocked_by:
        from_stage, to_stage = services.RATE_STEPS[result.blocked_by]
        blocked = {
            "label": RATE_LABELS[result.blocked_by],
            "because": result.blocked_because,
            "from_name": STAGE_NAMES[from_stage],
        }
    return {"quota": result, "stages": stages, "blocked": blocked, "weeks": float(result.weeks)}


def _gap(result: Quota, now: dict[str, int]) -> list[dict]:
    """Per stage before won: leads needed over the period, standing in it now, still to find."""
    rows = []
    for stage in result.stages:
        if stage.stage == "won":
            continue
        in_stage = now.get(stage.stage, 0)
        rows.append(
            {
                "name": STAGE_NAMES[stage.stage],
                "needed": stage.total,
                "now": in_stage,
                "short": max(0, stage.total - in_stage) if stage.total is not None else None,
            }
        )
    return rows


def _query(form: QuotaForm) -> dict[str, str]:
    """The calculator's inputs as GET parameters, without the empty ones."""
    query = {}
    for name in (*QUERY_FIELDS, *(f"rate_{key}" for key in RATE_KEYS)):
        value = form.cleaned_data.get(name)
        if value not in (None, ""):
            query[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return query


# --- Saved targets -----------------------------------------------------------------------------


@manage_targets_required
@require_safe
def targets(request: HttpRequest) -> HttpResponse:
    """Saved targets, the active one first."""
    return render(
        request,
        "quota/targets.html",
        {"targets": QuotaTarget.objects.select_related("created_by")},
    )


@manage_targets_required
@require_POST
def target_create(request: HttpRequest) -> HttpResponse:
    """Save the calculation on screen as a target, with the rates it used."""
    form = QuotaForm(request.POST)
    target_form = TargetForm(request.POST)
    if not (form.is_valid() and target_form.is_valid()):
        context = _calculator(request, form, public=False, target_form=target_form)
        context["save_failed"] = True
        return render(request, "quota/calculator.html", context, status=400)
    since, until = form.rate_window()
    rows = _rate_rows(form, services.measured_rates(since=since, until=until))
    target = services.save_target(
        name=target_form.cleaned_data["name"],
        starts_on=target_form.cleaned_data["starts_on"],
        period=form.cleaned_data["period"],
        months=form.months,
        revenue_target=form.cleaned_data["revenue_target"],
        average_deal_size=form.cleaned_data["average_deal_size"],
        rates={row.key: row.used for row in rows},
        actor=request.user,
        activate=target_form.cleaned_data["activate"],
    )
    messages.success(request, _("Target “%(name)s” saved.") % {"name": target.name})
    return redirect("quota:targets")


@manage_targets_required
@require_POST
def target_activate(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(QuotaTarget, pk=pk)
    services.activate_target(target_id=target.pk)
    messages.success(request, _("The dashboard now tracks “%(name)s”.") % {"name": target.name})
    return redirect("quota:targets")


@manage_targets_required
@require_POST
def target_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(QuotaTarget, pk=pk)
    services.deactivate_target(target_id=target.pk)
    messages.success(request, _("“%(name)s” is no longer tracked.") % {"name": target.name})
    return redirect("quota:targets")


@manage_targets_required
@require_POST
def target_delete(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(QuotaTarget, pk=pk)
    target.delete()
    messages.success(request, _("Target “%(name)s” deleted.") % {"name": target.name})
    return redirect("quota:targets")


# --- The public switch -------------------------------------------------------------------------


@publish_required
@require_http_methods(["GET", "HEAD", "POST"])
def calculator_settings(request: HttpRequest) -> HttpResponse:
    """Whether anonymous visitors may use the calculator."""
    if request.method == "POST":
        form = PublishForm(request.POST)
        if form.is_valid():
            public = form.cleaned_data["public"]
            services.set_calculator_public(public=public, actor=request.user)
            messages.success(
                request,
                _("The calculator is now public.")
                if public
                else _("The calculator is now for logged-in users only."),
            )
            return redirect("quota:settings")
    else:
        form = PublishForm(initial={"public": CalculatorSettings.is_public()})
    return render(
        request,
        "quota/settings.html",
        {
            "form": form,
            "public": CalculatorSettings.is_public(),
            "public_url": request.build_absolute_uri(reverse("funnel:quota")),
            "example_url": request.build_absolute_uri(
                f"{reverse('funnel:quota')}?"
                + urlencode(
                    {"revenue_target": 120000, "average_deal_size": 6000, "period": "quarter"}
                )
            ),
        },
    )
