"""Every dashboard number, recomputed directly from Lead and StageTransition in SQL: what
the read model (LeadMilestone, FunnelFact) must always agree with."""

from datetime import timedelta

from django.conf import settings
from django.db import connection

from funnel.metrics import Filters, today

FUNNEL = ["contact", "lead", "mql", "sql", "opportunity", "won"]


def _entered_sql(filters: Filters) -> tuple[str, dict]:
    # Merged-away duplicates are not counted anywhere (dashboard, quota calculator).
    conditions, params = ["l.merged_into_id IS NULL"], {}
    if filters.source:
        conditions.append("l.source = %(source)s")
        params["source"] = filters.source
    if filters.campaign:
        conditions.append("l.campaign = %(campaign)s")
        params["campaign"] = filters.campaign
    if filters.owner_id is not None:
        conditions.append("l.owner_id = %(owner)s")
        params["owner"] = filters.owner_id
    if filters.team_id is not None:
        conditions.append(
            "l.owner_id IN (SELECT user_id FROM sales_salesteam_members"
            " WHERE salesteam_id = %(team)s)"
        )
        params["team"] = filters.team_id
    firsts = ", ".join(
        f"(SELECT MIN(occurred_at) FROM scoring_stagetransition t"
        f" WHERE t.lead_id = l.id AND t.to_stage = '{s}') AS e_{s}"
        for s in FUNNEL[1:]
    )
    sql = f"""
        SELECT l.id, l.stage, l.created_at AS e_contact, {firsts},
          COALESCE((SELECT MAX(occurred_at) FROM scoring_stagetransition t
                    WHERE t.lead_id = l.id AND t.to_stage = l.stage), l.created_at) AS since
        FROM leads_lead l WHERE {" AND ".join(conditions)}
    """
    return sql, params


def _local(expression: str) -> str:
    return f"(({expression}) AT TIME ZONE '{settings.TIME_ZONE}')::date"


def recompute(filters: Filters) -> dict:
    """The dashboard's funnel numbers for these filters, straight from the history."""
    base, params = _entered_sql(filters)
    params |= {"start": filters.start, "end": filters.end}

    def reached(stage: str) -> str:
        later = FUNNEL[FUNNEL.index(stage) :]
        return f"LEAST({', '.join(f'e_{s}' for s in later)})" if len(later) > 1 else f"e_{stage}"

    def in_period(expression: str) -> str:
        return f"{_local(expression)} >= %(start)s AND {_local(expression)} < %(end)s"

    result: dict = {"entered": {}, "reached_next": {}, "velocity": {}, "ageing": {}, "cohorts": {}}
    with connection.cursor() as cursor:
        for stage in FUNNEL:
            cursor.execute(
                f"SELECT count(*) FROM ({base}) e WHERE {in_period(f'e_{stage}')}", params
            )
            result["entered"][stage] = cursor.fetchone()[0]
        for stage, following in zip(FUNNEL, FUNNEL[1:], strict=False):
            cursor.execute(
                f"SELECT count(*) FROM ({base}) e WHERE {in_period(f'e_{stage}')}"
                f" AND {reached(following)} IS NOT NULL",
                params,
            )
            result["reached_next"][stage] = cursor.fetchone()[0]
            days = f"floor(extract(epoch from (e_{following} - e_{stage})) / 86400)"
            cursor.execute(
                f"""SELECT count(*),
                      percentile_disc(0.5) WITHIN GROUP (ORDER BY {days}),
                      percentile_disc(0.9) WITHIN GROUP (ORDER BY {days})
                    FROM ({base}) e
                    WHERE e_{following} >= e_{stage} AND {in_period(f"e_{following}")}""",
                params,
            )
            count, median, p90 = cursor.fetchone()
            result["velocity"][stage] = (
                count,
                None if median is None else int(median),
                None if p90 is None else int(p90),
            )
        cutoff = today() - timedelta(days=filters.ageing_days)
        cursor.execute(
            f"SELECT stage, count(*) FROM ({base}) e WHERE {_local('since')} < %(cutoff)s"
            " GROUP BY stage",
            params | {"cutoff": cutoff},
        )
        result["ageing"] = dict(cursor.fetchall())
        cursor.execute(
            f"""SELECT date_trunc('month', {_local("e_contact")})::date, count(*)
                FROM ({base}) e WHERE {in_period("e_contact")} GROUP BY 1""",
            params,
        )
        sizes = dict(cursor.fetchall())
        for stage in ["mql", "sql", "opportunity", "won"]:
            days = f"floor(extract(epoch from ({reached(stage)} - e_contact)) / 86400)"
            cursor.execute(
                f"""SELECT date_trunc('month', {_local("e_contact")})::date, count(*),
                      percentile_disc(0.5) WITHIN GROUP (ORDER BY {days})
                    FROM ({base}) e
                    WHERE {in_period("e_contact")} AND {reached(stage)} IS NOT NULL
                    GROUP BY 1""",
                params,
            )
            for month, count, median in cursor.fetchall():
                result["cohorts"][(month, stage)] = (count, int(median))
        result["cohort_sizes"] = sizes
    return result


def shown(dashboard) -> dict:
    """The same figures as the dashboard gives them, in recompute()'s shape."""
    result: dict = {
        "entered": {row.stage: row.entered for row in dashboard.stages},
        "reached_next": {
            row.stage: row.reached_next for row in dashboard.stages if row.reached_next is not None
        },
        "velocity": {
            row.stage: (row.left, row.median_days, row.p90_days) for row in dashboard.velocity
        },
        "ageing": {stage: n for stage, _label, n in dashboard.ageing if n},
        "cohorts": {},
        "cohort_sizes": {c.month: c.size for c in dashboard.cohorts if c.size},
    }
    for cohort in dashboard.cohorts:
        for stage, cell in cohort.cells.items():
            if cell.reached:
                result["cohorts"][(cohort.month, stage)] = (cell.reached, cell.median_days)
    return result


def comparable(recomputed: dict) -> dict:
    """recompute() with the stages the dashboard does not show ageing for left out."""
    from funnel.metrics import AGEING_STAGES

    recomputed["ageing"] = {
        stage: n for stage, n in recomputed["ageing"].items() if stage in AGEING_STAGES and n
    }
    for stage, (count, _median, _p90) in recomputed["velocity"].items():
        if not count:
            recomputed["velocity"][stage] = (0, None, None)
    return recomputed
