"""Every dashboard number, recomputed directly from Lead and StageTransition in SQL: what
the read model (LeadMilestone, FunnelFact) must always agree with."""

import math
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from funnel.metrics import Filters, to_datetime, today

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


def _nearest_rank(values: list[int], share: float) -> int:
    """percentile_disc: the first value whose cumulative share reaches `share`."""
    values = sorted(values)
    return values[max(math.ceil(share * len(values)) - 1, 0)]


def _recompute_in_python(filters: Filters) -> dict:
    """recompute() for SQLite, which has no time zones or percentiles: the same first
    moments from SQL, the same arithmetic in Python."""
    base, params = _entered_sql(filters)
    with connection.cursor() as cursor:
        cursor.execute(base, params)
        rows = cursor.fetchall()
    zone = ZoneInfo(settings.TIME_ZONE)
    leads = []
    for _id, stage, *moments in rows:
        moments = [to_datetime(moment) for moment in moments]
        leads.append((stage, dict(zip(FUNNEL, moments[:-1], strict=True)), moments[-1]))

    def local(moment):
        return moment.astimezone(zone).date()

    def in_period(moment) -> bool:
        return moment is not None and filters.start <= local(moment) < filters.end

    def reached(entered: dict, stage: str):
        later = [entered[s] for s in FUNNEL[FUNNEL.index(stage) :] if entered[s] is not None]
        return min(later) if later else None

    def days(start, end) -> int:
        return math.floor((end - start).total_seconds() / 86400)

    result: dict = {"entered": {}, "reached_next": {}, "velocity": {}, "ageing": {}, "cohorts": {}}
    for stage in FUNNEL:
        result["entered"][stage] = sum(1 for _s, e, _since in leads if in_period(e[stage]))
    for stage, following in zip(FUNNEL, FUNNEL[1:], strict=False):
        result["reached_next"][stage] = sum(
            1
            for _s, e, _since in leads
            if in_period(e[stage]) and reached(e, following) is not None
        )
        spans = [
            days(e[stage], e[following])
            for _s, e, _since in leads
            if e[stage] is not None
            and e[following] is not None
            and e[following] >= e[stage]
            and in_period(e[following])
        ]
        result["velocity"][stage] = (
            len(spans),
            _nearest_rank(spans, 0.5) if spans else None,
            _nearest_rank(spans, 0.9) if spans else None,
        )
    cutoff = today() - timedelta(days=filters.ageing_days)
    for stage, _e, since in leads:
        if local(since) < cutoff:
            result["ageing"][stage] = result["ageing"].get(stage, 0) + 1
    sizes: dict = {}
    cohorts: dict = {}
    for _stage, e, _since in leads:
        if not in_period(e["contact"]):
            continue
        month = local(e["contact"]).replace(day=1)
        sizes[month] = sizes.get(month, 0) + 1
        for stage in ["mql", "sql", "opportunity", "won"]:
            moment = reached(e, stage)
            if moment is not None:
                cohorts.setdefault((month, stage), []).append(days(e["contact"], moment))
    result["cohorts"] = {
        key: (len(spans), _nearest_rank(spans, 0.5)) for key, spans in cohorts.items()
    }
    result["cohort_sizes"] = sizes
    return result


def recompute(filters: Filters) -> dict:
    """The dashboard's funnel numbers for these filters, straight from the history."""
    if connection.vendor == "sqlite":
        return _recompute_in_python(filters)
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
