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
from consent.services import ConsentGiven, UnknownPurpose, active_purpose_keys, record_consents
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
    cleaned, errors = validate_lead_data(data)
    unknown = {choice.purpose_key for choice in consents} - (
        active_purpose_keys() if consents else set()
    )
    if unknown:
        errors.setdefault("consents", []).append(str(UnknownPurpose(unknown)))
    if errors:
        raise CaptureRejected(errors)
    if not cleaned["source"]:
        cleaned["source"] = context.channel
    now = timezone.now()
    occurred_at = context.occurred_at or now
    properties = {"channel": str(context.channel), **context.event_properties}
    properties.update(
        {key: cleaned[key] for key in FIRST_TOUCH_FIELDS if cleaned[key] and key != "source"}
    )
    if _single_statement_capture():
        result = _capture_in_one_statement(cleaned, context, consents, properties, now, occurred_at)
    else:
        result = _capture_with_the_orm(cleaned, context, consents, properties, now, occurred_at)
    tasks_requested()
    return result


def _single_statement_capture() -> bool:
    return connection.vendor == "postgresql"


def _capture_with_the_orm(cleaned, context, consents, properties, now, occurred_at):
    """The same capture in plain ORM steps, for SQLite (the embedded `make run` database)."""
    try:
        with transaction.atomic():
            return _capture_orm_steps(cleaned, context, consents, properties, now, occurred_at)
    except IntegrityError:
        # A concurrent capture inserted the address between our read and our insert; the
        # second try finds it and updates it.
        with transaction.atomic():
            return _capture_orm_steps(cleaned, context, consents, properties, now, occurred_at)


def _capture_orm_steps(cleaned, context, consents, properties, now, occurred_at):
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

# One statement: upsert the lead, add the event, the consents and the outbox row. The partial
# unique index on active e-mail addresses makes concurrent captures of one address meet in
# ON CONFLICT instead of creating two leads. xmax = 0 tells an insert from an update.
CAPTURE_SQL = f"""
WITH upsert AS (
    INSERT INTO leads_lead ({", ".join(_INSERT_COLUMNS)},
        stage, score, fit_score, engagement_score, created_at, updated_at, last_activity_at)
    VALUES ({", ".join(["%s"] * len(_INSERT_COLUMNS))}, 'contact', 0, 0, 0, %s, %s, %s)
    ON CONFLICT (email) WHERE merged_into_id IS NULL DO UPDATE SET
        {_ON_CONFLICT_SET}
    RETURNING id, (xmax = 0) AS inserted
),
event AS (
    INSERT INTO leads_event (lead_id, type, url, occurred_at, properties, created_at)
    SELECT id, %s, %s, %s, %s::jsonb, %s FROM upsert
    RETURNING id
),
choices AS (
    SELECT c.purpose_key, c.granted, c.notice_id
    FROM unnest(%s::text[], %s::boolean[], %s::bigint[]) AS c(purpose_key, granted, notice_id)
),
consents AS (
    INSERT INTO consent_consentrecord (subject_id, purpose_id, granted, notice_id, method,
        source, ip_address, user_agent, evidence, recorded_by_id, recorded_at)
    SELECT upsert.id, purpose.id, choices.granted,
        CASE WHEN choices.granted THEN COALESCE(shown.id, newest.id) END,
        %s, %s, %s::inet, %s, COALESCE(NULLIF(%s, ''), 'event:' || (SELECT id FROM event)), %s, %s
    FROM upsert
    CROSS JOIN choices
    JOIN consent_purpose purpose ON purpose.key = choices.purpose_key AND purpose.is_active
    LEFT JOIN consent_noticeversion shown
        ON shown.id = choices.notice_id AND shown.purpose_id = purpose.id
    LEFT JOIN LATERAL (
        SELECT id FROM consent_noticeversion
        WHERE purpose_id = purpose.id ORDER BY version DESC LIMIT 1
    ) newest ON true
    RETURNING id
),
outbox AS (
    INSERT INTO outbox_outboxmessage (task, args, dedupe_key, created_at, attempts, last_error)
    SELECT %s, jsonb_build_array(id), 'rescore:' || id, %s, 0, '' FROM upsert
    ON CONFLICT DO NOTHING
)
SELECT upsert.id, upsert.inserted, (SELECT id FROM event), (SELECT count(*) FROM consents)
FROM upsert
"""


def _capture_in_one_statement(cleaned, context, consents, properties, now, occurred_at):
    params = [
        *(cleaned[column] for column in _INSERT_COLUMNS),
        now,
        now,
        occurred_at,
        # event
        str(context.event_type),
        context.url[:2000],
        occurred_at,
        json.dumps(properties, default=str),
        now,
        # consents
        [choice.purpose_key for choice in consents],
        [choice.granted for choice in consents],
        [choice.notice_id for choice in consents],
        str(context.consent_method),
        context.consent_source[:500],
        context.ip_address,
        context.user_agent[:500],
        context.evidence[:200],
        getattr(context.actor, "pk", None),
        now,
        # outbox
        RESCORE_TASK,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(CAPTURE_SQL, params)
        lead_id, created, event_id, _consent_count = cursor.fetchone()
    return CaptureResult(lead_id=lead_id, created=created, event_id=event_id)


def default_event_type(channel: Source) -> EventType:
    return EventType.FORM_SUBMISSION if channel == Source.WEB_FORM else EventType.CAPTURE
