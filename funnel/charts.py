"""Server-rendered SVG charts for the dashboard: no script, no CDN, printable. Each chart is
an image with a title and a description; the numbers themselves stand in the table beside
it, which is what screen readers and spreadsheets should use."""

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from funnel.metrics import COHORT_STAGES, CohortRow, StageRow, VelocityRow

WIDTH = 640
BAR = 26
GAP = 10
LABEL = 150


def _svg(chart_id: str, title: str, description: str, height: int, body: str) -> SafeString:
    return format_html(
        '<svg class="funnel-chart" role="img" aria-labelledby="{id}-title {id}-desc" '
        'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title>'
        '<desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=WIDTH,
        h=height,
        title=title,
        desc=description,
        body=mark_safe(body),  # built below from escaped parts only
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", css: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def funnel_bars(stages: list[StageRow]) -> SafeString:
    """One bar per stage, its length the leads that entered it, with the conversion to the
    next stage written between the bars."""
    largest = max((row.entered for row in stages), default=0) or 1
    room = WIDTH - LABEL - 120
    parts = []
    for index, row in enumerate(stages):
        y = index * (BAR + GAP)
        length = room * row.entered / largest
        parts.append(_text(0, y + BAR / 2, row.label))
        parts.append(
            f'<rect x="{LABEL}" y="{y}" width="{max(length, 1):.1f}" height="{BAR}" '
            f'class="bar bar-{index}"/>'
        )
        parts.append(_text(LABEL + length + 6, y + BAR / 2, f"{row.entered:,}"))
        if row.conversion is not None:
            parts.append(
                _text(
                    WIDTH, y + BAR + GAP / 2, f"↓ {row.conversion:.1f}%", anchor="end", css="conv"
                )
            )
    description = "; ".join(
        f"{row.label}: {row.entered}"
        + (
            f", {row.conversion:.1f}% " + _("to the next stage")
            if row.conversion is not None
            else ""
        )
        for row in stages
    )
    return _svg(
        "funnel-chart",
        _("Leads that entered each stage"),
        description,
        len(stages) * (BAR + GAP),
        "".join(parts),
    )


def velocity_bars(rows: list[VelocityRow]) -> SafeString:
    """Median (solid) and p90 (light) days in each stage."""
    largest = max((row.p90_days or 0 for row in rows), default=0) or 1
    room = WIDTH - LABEL - 80
    parts = []
    for index, row in enumerate(rows):
        y = index * (BAR + GAP)
        parts.append(_text(0, y + BAR / 2, row.label))
        p90 = room * (row.p90_days or 0) / largest
        median = room * (row.median_days or 0) / largest
        parts.append(f'<rect x="{LABEL}" y="{y}" width="{p90:.1f}" height="{BAR}" class="p90"/>')
        parts.append(
            f'<rect x="{LABEL}" y="{y + 6}" width="{median:.1f}" height="{BAR - 12}" '
            'class="median"/>'
        )
        text = "—" if row.median_days is None else f"{row.median_days} / {row.p90_days}"
        parts.append(_text(LABEL + p90 + 6, y + BAR / 2, text))
    description = "; ".join(
        f"{row.label}: "
        + _("median %(median)s, p90 %(p90)s days")
        % {"median": row.median_days, "p90": row.p90_days}
        for row in rows
    )
    return _svg(
        "velocity-chart",
        _("Days spent in each stage: median and 90th percentile"),
        description,
        len(rows) * (BAR + GAP),
        "".join(parts),
    )


def cohort_heat(rows: list[CohortRow], labels: dict[str, str]) -> SafeString:
    """A grid: one row per month of creation, one column per stage, darker the larger the
    share that reached it."""
    cell_w, cell_h, left, top = 110, 24, 90, 24
    parts = [
        _text(left + i * cell_w + cell_w / 2, top / 2, labels[stage], anchor="middle")
        for i, stage in enumerate(COHORT_STAGES)
    ]
    for r, row in enumerate(rows):
        y = top + r * cell_h
        parts.append(_text(0, y + cell_h / 2, f"{row.month:%Y-%m}"))
        for i, stage in enumerate(COHORT_STAGES):
            share = row.cells[stage].share
            opacity = 0.05 + 0.95 * min((share or 0) / 100 * 2, 1)
            x = left + i * cell_w
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'class="heat" fill-opacity="{opacity:.2f}"/>'
            )
            text = "—" if share is None else f"{share:.1f}%"
            parts.append(
                _text(x + cell_w / 2, y + cell_h / 2, text, anchor="middle", css="heat-label")
            )
    description = _("Share of each month's new leads that reached each stage; see the table.")
    return _svg(
        "cohort-chart",
        _("Cohorts: share of new leads reaching each stage"),
        description,
        top + len(rows) * cell_h,
        "".join(parts),
    )
