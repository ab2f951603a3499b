"""`capture_lead`: the one way a lead comes in, whatever the channel.

Web forms, the API, CSV imports and manual entry all call it. It validates and normalises,
creates the lead or updates the existing one with the same e-mail address, records the
consents given, writes a capture event and asks for re-scoring through the outbox, all in one
transaction. On PostgreSQL that transaction is a single statement (one round trip, one
durable commit): capture is the hottest write path and round trips are its cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from consent.models import ConsentMethod
from consent.services import ConsentGiven, UnknownPurpose, purpose_rules, record_consents
from leads.models import Event, EventType, Lead, Source
from leads.validation import validate_lead_data
from outbox.services import request_task, tasks_requested

RESCORE_TASK = "scoring.tasks.rescore_lead_task"

# Profile fields a later submission overwrites when it brings a value; a blank never erases.
PROFILE_FIELDS = [
    "first_name", "last_name", "phone", "company", "job_title", "seniority", "industry",
    "country", "need", "timeframe",
]  # fmt: skip
NULLABLE_PROFILE_FIELDS = ["company_size", "budget"]
# Where the lead first came from stays; later touches are told by their events.
FIRST_TOUCH_FIELDS = ["source", "campaign", "utm_source", "utm_medium", "utm_campaign"]


class CaptureRejected(Exception):
    """The data was not valid; nothing was saved. `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(errors)


@dataclass(frozen=True)
class CaptureContext:
    """Where and how a capture happened: becomes the event and the consent evidence."""

    channel: Source
    event_type: EventType = EventType.CAPTURE
    event_properties: Mapping = field(default_factory=dict)
    url: str = ""
    occurred_at: datetime | None = None
    ip_address: str | None = None
    user_agent: str = ""
    actor: object | None = None
    consent_method: ConsentMethod = ConsentMethod.API
    consent_source: str = ""
    evidence: str = ""


@dataclass(frozen=True)
class CaptureResult:
    lead_id: int
    created: bool
    event_id: int


@dataclass(frozen=True)
class CaptureRow:
    """One lead's data in a batch, with the consents given and what to note on its event."""

    data: Mapping
    consents: Sequence[ConsentGiven] = ()
    event_properties: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class BatchCaptureResult:
    results: list[CaptureResult | None]  # one per input row; None where it was rejected
    errors: dict[int, dict[str, list[str]]]  # input row index -> messages per field


def capture_lead(
    *,
    data: Mapping,
    context: CaptureContext,
    consents: Sequence[ConsentGiven] = (),
) -> CaptureResult:
    """Create or update the lead for `data["email"]` and record this touch.

    Raises CaptureRejected with per-field messages when the data or a consent purpose is
    invalid; then nothing is written. Concurrent captures of one address give one lead and
    one event each.
    """
    batch = capture_leads(rows=[CaptureRow(data=data, consents=consents)], context=context)
    if batch.errors:
        raise CaptureRejected(batch.errors[0])
    return batch.results[0]


def capture_leads(*, rows: Sequence[CaptureRow], context: CaptureContext) -> BatchCaptureResult:
    """Capture many leads at once (an import batch): the valid rows in one transaction.

    Each row is validated as `capture_lead` would; rejected rows are reported per index and
    the rest are written. Rows with the same address become one lead with one event each.
    """
    errors: dict[int, dict[str, list[str]]] = {}
    valid: list[tuple[int, dict, CaptureRow]] = []
    keys = {choice.purpose_key for row in rows for choice in row.consents}
    rules = purpose_rules(keys) if keys else None
    for index, row in enumerate(rows):
        cleaned, row_errors = validate_lead_data(row.data)
        unknown = rules.refused(row.consents) if rules else set()
        if unknown:
            row_errors.setdefault("consents", []).append(str(UnknownPurpose(unknown)))
        if row_errors:
            errors[index] = row_errors
            continue
        if not cleaned["source"]:
            cleaned["source"] = context.channel
        valid.append((index, cleaned, row))
    _resolve_merged_addresses(valid)
    results: list[CaptureResult | None] = [None] * len(rows)
    if valid:
        now = timezone.now()
        occurred_at = context.occurred_at or now
        prepared = [
            (index, cleaned, row, _event_properties(cleaned, context, row))
            for index, cleaned, row in valid
        ]
        if _single_statement_capture():
            written = _capture_in_one_statement(prepared, context, now, occurred_at)
        else:
            written = _capture_with_the_orm(prepared, context, now, occurred_at)
        for index, result in written.items():
            results[index] = result
        tasks_requested()
    return BatchCaptureResult(results=results, errors=errors)


def _resolve_merged_addresses(valid: list[tuple[int, dict, CaptureRow]]) -> None:
    """Send an address that belonged to a merged-away lead to the lead it was merged into:
    the person is the survivor now, under whichever address they use."""
    survivors = dict(
        Lead.objects.reached_by({cleaned["email"] for _index, cleaned, _row in valid})
        .filter(merged_into__isnull=False)
        .values_list("email", "reaches_email")
    )
    for _index, cleaned, _row in valid:
        if cleaned["email"] in survivors:
            cleaned["used_address"] = cleaned["email"]
            cleaned["email"] = survivors[cleaned["email"]]


def _event_properties(cleaned: dict, context: CaptureContext, row: CaptureRow) -> dict:
    properties = {"channel": str(context.channel), **context.event_properties}
    properties.update(row.event_properties)
    if "used_address" in cleaned:
        properties["used_address"] = cleaned["used_address"]
    properties.update(
        {key: cleaned[key] for key in FIRST_TOUCH_FIELDS if cleaned[key] and key != "source"}
    )
    return properties


def _single_statement_capture() -> bool:
    return connection.vendor == "postgresql"


def _capture_with_the_orm(prepared, context, now, occurred_at) -> dict[int, CaptureResult]:
    """The same capture in plain ORM steps, for SQLite (the embedded `make run` database)."""
    try:
        with transaction.atomic():
            return _capture_orm_rows(prepared, context, occurred_at)
    except IntegrityError:
        # A concurrent capture inserted an address between our read and our insert; the
        # second try finds it and updates it.
        with transaction.atomic():
            return _capture_orm_rows(prepared, context, occurred_at)


def _capture_orm_rows(prepared, context, occurred_at) -> dict[int, CaptureResult]:
    return {
        index: _capture_orm_steps(cleaned, context, row.consents, properties, occurred_at)
        for index, cleaned, row, properties in prepared
    }


def _capture_orm_steps(cleaned, context, consents, properties, occurred_at) -> CaptureResult:
    lead = Lead.objects.active().select_for_update().filter(email=cleaned["email"]).first()
    created = lead is None
    if created:
        lead = Lead(
            email=cleaned["email"],
            is_decision_maker=cleaned["is_decision_maker"],
            **{name: cleaned[name] for name in PROFILE_FIELDS + NULLABLE_PROFILE_FIELDS},
            **{name: cleaned[name] for name in FIRST_TOUCH_FIELDS},
        )
    else:
        for name in PROFILE_FIELDS + NULLABLE_PROFILE_FIELDS:
            if cleaned[name] not in ("", None):
                setattr(lead, name, cleaned[name])
        if cleaned["seniority"]:
            lead.is_decision_maker = cleaned["is_decision_maker"]
        for name in FIRST_TOUCH_FIELDS:
            if not getattr(lead, name):
                setattr(lead, name, cleaned[name])
    lead.last_activity_at = max(filter(None, [lead.last_activity_at, occurred_at]))
    lead.save()
    event = Event.objects.create(
        lead=lead,
        type=context.event_type,
        url=context.url[:2000],
        occurred_at=occurred_at,
        properties=properties,
    )
    if consents:
        record_consents(
            subject_id=lead.pk,
            given=consents,
            method=context.consent_method,
            source=context.consent_source,
            ip_address=context.ip_address,
            user_agent=context.user_agent,
            evidence=context.evidence or f"event:{event.pk}",
            recorded_by=context.actor,
        )
    request_task(RESCORE_TASK, lead.pk, dedupe_key=f"rescore:{lead.pk}")
    return CaptureResult(lead_id=lead.pk, created=created, event_id=event.pk)


_INSERT_COLUMNS = [
    "email", *PROFILE_FIELDS, *NULLABLE_PROFILE_FIELDS, *FIRST_TOUCH_FIELDS, "is_decision_maker",
]  # fmt: skip
_COLUMN_TYPES = {"company_size": "integer", "budget": "numeric", "is_decision_maker": "boolean"}
_ON_CONFLICT_SET = ",\n        ".join(
    [
        *(f"{c} = COALESCE(NULLIF(EXCLUDED.{c}, ''), leads_lead.{c})" for c in PROFILE_FIELDS),
        *(f"{c} = COALESCE(EXCLUDED.{c}, leads_lead.{c})" for c in NULLABLE_PROFILE_FIELDS),
        *(f"{c} = COALESCE(NULLIF(leads_lead.{c}, ''), EXCLUDED.{c})" for c in FIRST_TOUCH_FIELDS),
        "is_decision_maker = CASE WHEN EXCLUDED.seniority <> '' THEN EXCLUDED.is_decision_maker"
        " ELSE leads_lead.is_decision_maker END",
        "updated_at = EXCLUDED.updated_at",
        "last_activity_at = GREATEST(leads_lead.last_activity_at, EXCLUDED.last_activity_at)",
    ]
)
_UNNEST_LEADS = ", ".join(
    f"%(c{i})s::{_COLUMN_TYPES.get(c, 'text')}[]" for i, c in enumerate(_INSERT_COLUMNS)
)

# One statement: upsert the leads, add one event per row, the consents and one outbox row per
# lead. The partial unique index on active addresses makes concurrent captures of one address
# meet in ON CONFLICT instead of creating two leads; xmax = 0 tells an insert from an update.
# Event ids are drawn up front so each input row learns its own.
CAPTURE_SQL = f"""
WITH incoming AS (
    SELECT * FROM unnest({_UNNEST_LEADS}) AS t({", ".join(_INSERT_COLUMNS)})
),
upsert AS (
    INSERT INTO leads_lead ({", ".join(_INSERT_COLUMNS)},
        stage, score, fit_score, engagement_score, created_at, updated_at, last_activity_at)
    SELECT {", ".join(_INSERT_COLUMNS)}, 'contact', 0, 0, 0, %(now)s, %(now)s, %(occurred)s
    FROM incoming
    ON CONFLICT (email) WHERE merged_into_id IS NULL DO UPDATE SET
        {_ON_CONFLICT_SET}
    RETURNING id, email, (xmax = 0) AS inserted
),
touches AS (
    SELECT nextval(pg_get_serial_sequence('leads_event', 'id')) AS event_id, t.*
    FROM unnest(%(row_numbers)s::integer[], %(row_emails)s::text[], %(properties)s::jsonb[])
        AS t(row_number, email, properties)
),
events AS (
    INSERT INTO leads_event (id, lead_id, type, url, occurred_at, properties, created_at)
    SELECT touches.event_id, upsert.id, %(event_type)s, %(url)s, %(occurred)s,
        touches.properties, %(now)s
    FROM touches JOIN upsert ON upsert.email = touches.email
),
choices AS (
    SELECT c.* FROM unnest(%(consent_rows)s::integer[], %(purpose_keys)s::text[],
        %(granted)s::boolean[], %(notice_ids)s::bigint[])
        AS c(row_number, purpose_key, granted, notice_id)
),
consents AS (
    INSERT INTO consent_consentrecord (subject_id, purpose_id, granted, notice_id, method,
        source, ip_address, user_agent, evidence, recorded_by_id, recorded_at)
    SELECT upsert.id, purpose.id, choices.granted,
        CASE WHEN choices.granted THEN COALESCE(shown.id, newest.id) END,
        %(method)s, %(source)s, %(ip)s::inet, %(user_agent)s,
        COALESCE(NULLIF(%(evidence)s, ''), 'event:' || touches.event_id), %(actor)s, %(now)s
    FROM choices
    JOIN touches ON touches.row_number = choices.row_number
    JOIN upsert ON upsert.email = touches.email
    JOIN consent_purpose purpose ON purpose.key = choices.purpose_key
        AND (purpose.is_active OR NOT choices.granted)
    LEFT JOIN consent_noticeversion shown
        ON shown.id = choices.notice_id AND shown.purpose_id = purpose.id
    LEFT JOIN LATERAL (
        SELECT id FROM consent_noticeversion
        WHERE purpose_id = purpose.id ORDER BY version DESC LIMIT 1
    ) newest ON true
),
outbox AS (
    INSERT INTO outbox_outboxmessage (task, args, dedupe_key, created_at, attempts, last_error)
    SELECT %(task)s, jsonb_build_array(id), 'rescore:' || id, %(now)s, 0, '' FROM upsert
    ON CONFLICT DO NOTHING
)
SELECT touches.row_number, touches.event_id, upsert.id, upsert.inserted
FROM touches JOIN upsert ON upsert.email = touches.email
"""


def _merged_by_address(prepared) -> dict[str, dict]:
    """One set of values per address: later rows fill in and overwrite, as capture does."""
    merged: dict[str, dict] = {}
    for _index, cleaned, _row, _properties in prepared:
        known = merged.get(cleaned["email"])
        if known is None:
            merged[cleaned["email"]] = dict(cleaned)
            continue
        for name in PROFILE_FIELDS + NULLABLE_PROFILE_FIELDS:
            if cleaned[name] not in ("", None):
                known[name] = cleaned[name]
        if cleaned["seniority"]:
            known["is_decision_maker"] = cleaned["is_decision_maker"]
        for name in FIRST_TOUCH_FIELDS:
            if not known[name]:
                known[name] = cleaned[name]
    return merged


def _capture_in_one_statement(prepared, context, now, occurred_at) -> dict[int, CaptureResult]:
    merged = _merged_by_address(prepared)
    params: dict = {
        f"c{i}": [lead[column] for lead in merged.values()]
        for i, column in enumerate(_INSERT_COLUMNS)
    }
    consent_rows = [
        (index, choice) for index, _cleaned, row, _props in prepared for choice in row.consents
    ]
    params |= {
        "now": now,
        "occurred": occurred_at,
        "row_numbers": [index for index, *_rest in prepared],
        "row_emails": [cleaned["email"] for _index, cleaned, *_rest in prepared],
        "properties": [json.dumps(props, default=str) for *_rest, props in prepared],
        "event_type": str(context.event_type),
        "url": context.url[:2000],
        "consent_rows": [index for index, _choice in consent_rows],
        "purpose_keys": [choice.purpose_key for _index, choice in consent_rows],
        "granted": [choice.granted for _index, choice in consent_rows],
        "notice_ids": [choice.notice_id for _index, choice in consent_rows],
        "method": str(context.consent_method),
        "source": context.consent_source[:500],
        "ip": context.ip_address,
        "user_agent": context.user_agent[:500],
        "evidence": context.evidence[:200],
        "actor": getattr(context.actor, "pk", None),
        "task": RESCORE_TASK,
    }
    with connection.cursor() as cursor:
        cursor.execute(CAPTURE_SQL, params)
        rows = cursor.fetchall()
    # Only the first row of an address that did not exist yet created the lead.
    results: dict[int, CaptureResult] = {}
    first_row_of = {}
    for row_number, event_id, lead_id, inserted in sorted(rows):
        created = inserted and lead_id not in first_row_of
        first_row_of.setdefault(lead_id, row_number)
        results[row_number] = CaptureResult(lead_id=lead_id, created=created, event_id=event_id)
    return results
