"""The funnel dashboard: where the funnel leaks, for marketers and sales managers. Filters
live in the URL, so a view can be shared; every table can be downloaded as CSV."""

import csv
import importlib

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from funnel import charts, metrics
from funnel.forms import DashboardFilterForm, period_label
from leads.models import Stage
from leads.services.export import neutralise_formula

view_dashboard_required = permission_required("funnel.view_dashboard", raise_exception=True)


def _sla_summary():
    """sales.sla.sla_summary when the sales app provides it (it is built alongside)."""
    try:
        return importlib.import_module("sales.sla").sla_summary
    except (ImportError, AttributeError):
        return None


@view_dashboard_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardFilterForm(request.GET)
    filters = form.filters()
    data = metrics.dashboard(filters)
    labels = {stage.value: str(stage.label) for stage in Stage}
    query = request.GET.urlencode()
    return render(
        request,
        "funnel/dashboard.html",
        {
            "form": form,
            "filters": filters,
            "period": period_label(filters.start, filters.end),
            "data": data,
            "cohort_stages": [(stage, labels[stage]) for stage in metrics.COHORT_STAGES],
            "funnel_chart": charts.funnel_bars(data.stages),
            "velocity_chart": charts.velocity_bars(data.velocity),
            "cohort_chart": charts.cohort_heat(data.cohorts, labels),
            "query": query,
            "has_sla": _sla_summary() is not None,
            "tables": TABLES,
        },
    )


@view_dashboard_required
@require_safe
def sla(request: HttpRequest) -> HttpResponse:
    """The hand-over SLA section, loaded after the page: it reads activities per lead and
    should not hold up the funnel's numbers."""
    filters = DashboardFilterForm(request.GET).filters()
    return render(request, "funnel/dashboard.html#sla", {"sla_rows": _sla_rows(filters)})


def _sla_rows(filters: metrics.Filters) -> list | None:
    summary = _sla_summary()
    if summary is None:
        return None
    from accounts.models import User
    from sales.models import SalesTeam

    start, end = filters.bounds()
    owner = User.objects.filter(pk=filters.owner_id).first() if filters.owner_id else None
    team = SalesTeam.objects.filter(pk=filters.team_id).first() if filters.team_id else None
    return summary(start, end, owner=owner, team=team)


# --- CSV ---------------------------------------------------------------------------------------


def _stages(data, filters) -> list[list]:
    rows = [[_("stage"), _("entered"), _("reached next stage"), _("conversion %")]]
    for row in data.stages:
        rows.append([row.label, row.entered, row.reached_next, row.conversion])
    return rows


def _velocity(data, filters) -> list[list]:
    rows = [[_("stage"), _("left to next stage"), _("median days"), _("p90 days")]]
    rows += [[r.label, r.left, r.median_days, r.p90_days] for r in data.velocity]
    return rows


def _ageing(data, filters) -> list[list]:
    header = _("leads in stage longer than %(days)s days") % {"days": filters.ageing_days}
    return [[_("stage"), header], *([label, n] for _stage, label, n in data.ageing)]


def _cohorts(data, filters) -> list[list]:
    header = [_("month created"), _("leads")]
    for stage in metrics.COHORT_STAGES:
        label = str(Stage(stage).label)
        header += [f"{label} " + _("reached"), f"{label} %", f"{label} " + _("median days")]
    rows = [header]
    for cohort in data.cohorts:
        row = [f"{cohort.month:%Y-%m}", cohort.size]
        for stage in metrics.COHORT_STAGES:
            cell = cohort.cells[stage]
            row += [cell.reached, cell.share, cell.median_days]
        rows.append(row)
    return rows


def _by_reason(data, filters) -> list[list]:
    rows = [[_("rejection reason"), _("code"), _("moves")]]
    return rows + [[label, code, n] for code, label, n in data.rejections_by_reason]


def _by_source(data, filters) -> list[list]:
    rows = [[_("source"), _("code"), _("rejections")]]
    return rows + [[label, code, n] for code, label, n in data.rejections_by_source]


def _by_criterion(data, filters) -> list[list]:
    rows = [[_("criteria version"), _("criterion met"), _("rejected leads")]]
    return rows + [list(row) for row in data.rejections_by_criterion]


TABLES = {
    "stages": _stages,
    "velocity": _velocity,
    "ageing": _ageing,
    "cohorts": _cohorts,
    "rejections-reason": _by_reason,
    "rejections-source": _by_source,
    "rejections-criterion": _by_criterion,
    "sla": None,
}


def _cell(value) -> str:
    return "" if value is None else neutralise_formula(str(value))


@view_dashboard_required
@require_safe
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    """One table of the dashboard as CSV (?table=<name> and the page's filters)."""
    name = request.GET.get("table", "")
    if name not in TABLES:
        raise Http404(_("No such table."))
    filters = DashboardFilterForm(request.GET).filters()
    if name == "sla":
        sla_rows = _sla_rows(filters)
        if sla_rows is None:
            raise Http404(_("No such table."))
        rows = [[_("rep"), _("handed over"), _("contacted in time"), _("contacted late"),
                 _("open, in time"), _("open, overdue")]]  # fmt: skip
        rows += [
            [
                r.rep_name,
                r.handed_over,
                r.contacted_in_time,
                r.contacted_late,
                r.open_in_time,
                r.open_overdue,
            ]  # fmt: skip
            for r in sla_rows
        ]
    else:
        rows = TABLES[name](metrics.dashboard(filters), filters)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="funnel-{name}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"'
    )
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return response
