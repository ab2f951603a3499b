"""`capture_lead`: the one way a lead comes in, whatever the channel.

Web forms, the API, CSV imports and manual entry all call it. It validates and normalises,
creates the lead or updates the existing one with the same e-mail address, records the
consents given, writes a capture event and asks for re-scoring through the outbox, all in one
transaction. On PostgreSQL that transaction is a single statement (one round trip, one
durable commit): capture is the hottest write path and round trips are its cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.db import prepared_cursor
from consent.confirmation import double_opt_in_keys
from consent.models import ConsentMethod
from consent.services import ConsentGiven, UnknownPurpose, purpose_rules, record_consents
from leads.models import Event, EventType, Lead, Source
from leads.validation import validate_lead_data
from outbox.services import request_task, tasks_requested
from privacy.models import SuppressedAddress, address_hash

RESCORE_TASK = "scoring.tasks.rescore_lead_task"
CONFIRMATION_TASK = "leads.tasks.request_confirmation_task"

ERASED_ADDRESS = _(
    "This person's data was erased at their request. The address can come in again only "
    "with a consent they give now."
)

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
    lead: Lead | None = None  # the lead as written, when the caller asked for it


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
    batch = capture_leads(
        rows=[CaptureRow(data=data, consents=consents)], context=context, return_leads=True
    )
    if batch.errors:
        raise CaptureRejected(batch.errors[0])
    return batch.results[0]


def capture_leads(
    *, rows: Sequence[CaptureRow], context: CaptureContext, return_leads: bool = False
) -> BatchCaptureResult:
    """Capture many leads at once (an import batch): the valid rows in one transaction.

    Each row is validated as `capture_lead` would; rejected rows are reported per index and
    the rest are written. Rows with the same address become one lead with one event each.
    With `return_leads` each result carries the lead as written, so nobody reads it again.
    """
    errors: dict[int, dict[str, list[str]]] = {}
    checked: list[tuple[int, dict, CaptureRow]] = []
    for index, row in enumerate(rows):
        cleaned, row_errors = validate_lead_data(row.data)
        if row_errors:
            errors[index] = row_errors
            continue
        if not cleaned["source"]:
            cleaned["source"] = context.channel
        checked.append((index, cleaned, row))
    results: list[CaptureResult | None] = [None] * len(rows)
    now = timezone.now()
    occurred_at = context.occurred_at or now
    if _single_statement_capture():
        # Optimistic: most captures name no merged-away address and no unusable purpose, so
        # the statement checks both itself and writes nothing when it meets one; then it is
        # run again with what it reported. One round trip in the common case.
        facts = CaptureFacts()
        for _attempt in range(3):
            valid, refused = _apply_facts(checked, facts)
            prepared = _prepared(valid, context)
            written, blocked = (
                _capture_in_one_statement(prepared, context, now, occurred_at, return_leads)
                if prepared
                else ({}, None)
            )
            if blocked is None:
                break
            facts = facts.learned(blocked)
        else:  # pragma: no cover - merges and purpose edits racing three captures in a row
            raise RuntimeError("capture kept meeting changed addresses or purposes")
    else:
        facts = _facts_by_the_orm(checked)
        valid, refused = _apply_facts(checked, facts)
        prepared = _prepared(valid, context)
        written = _capture_with_the_orm(prepared, context, now, occurred_at) if prepared else {}
    errors.update(refused)
    for index, result in written.items():
        results[index] = result
    if written:
        tasks_requested()
    return BatchCaptureResult(results=results, errors=errors)


@dataclass(frozen=True)
class CaptureFacts:
    """What capture must know before writing: addresses of leads merged away (-> their
    survivor's address) and consent choices that cannot be recorded."""

    survivors: Mapping[str, str] = field(default_factory=dict)
    refused_choices: frozenset[tuple[str, bool]] = frozenset()  # (purpose key, granted)
    suppressed: frozenset[str] = frozenset()  # address hashes of people erased on request

    def refused(self, choices: Sequence[ConsentGiven]) -> set[str]:
        return {
            c.purpose_key for c in choices if (c.purpose_key, c.granted) in self.refused_choices
        }

    def learned(self, blocked: list[dict]) -> CaptureFacts:
        """These facts plus what the capture statement reported (see CAPTURE_SQL)."""
        survivors = dict(self.survivors)
        refused = set(self.refused_choices)
        suppressed = set(self.suppressed)
        for fact in blocked:
            if fact["kind"] == "address":
                survivors[fact["key"]] = fact["survivor"]
            elif fact["kind"] == "suppressed":
                suppressed.add(fact["key"])
            else:
                refused.add((fact["key"], fact["granted"]))
        return CaptureFacts(
            survivors=survivors,
            refused_choices=frozenset(refused),
            suppressed=frozenset(suppressed),
        )


def _apply_facts(
    checked: list[tuple[int, dict, CaptureRow]], facts: CaptureFacts
) -> tuple[list[tuple[int, dict, CaptureRow]], dict[int, dict[str, list[str]]]]:
    """The rows to write (an address of a merged-away lead sent to its survivor), and the
    errors of rows with a consent that cannot be recorded."""
    valid, errors = [], {}
    for index, cleaned, row in checked:
        unknown = facts.refused(row.consents)
        if unknown:
            errors[index] = {"consents": [str(UnknownPurpose(unknown))]}
            continue
        if not _grants(row) and address_hash(cleaned["email"]) in facts.suppressed:
            errors[index] = {"email": [str(ERASED_ADDRESS)]}
            continue
        cleaned = dict(cleaned)
        if cleaned["email"] in facts.survivors:
            # The person is the survivor now, under whichever address they use.
            cleaned["used_address"] = cleaned["email"]
            cleaned["email"] = facts.survivors[cleaned["email"]]
        valid.append((index, cleaned, row))
    return valid, errors


def _grants(row: CaptureRow) -> bool:
    """Whether the row gives a consent: the explicit choice that lifts a suppression."""
    return any(choice.granted for choice in row.consents)


def _prepared(valid, context: CaptureContext) -> list:
    return [
        (index, cleaned, row, _event_properties(cleaned, context, row))
        for index, cleaned, row in valid
    ]


def _facts_by_the_orm(checked: list[tuple[int, dict, CaptureRow]]) -> CaptureFacts:
    """The facts read up front, for the ORM steps (SQLite)."""
    emails = {cleaned["email"] for _index, cleaned, _row in checked}
    choices = {(c.purpose_key, c.granted) for *_rest, row in checked for c in row.consents}
    survivors = dict(
        Lead.objects.reached_by(emails)
        .filter(merged_into__isnull=False)
        .values_list("email", "reaches_email")
    )
    rules = purpose_rules({key for key, _granted in choices})
    refused = {
        (key, granted) for key, granted in choices if rules.refused([ConsentGiven(key, granted)])
    }
    hashes = {address_hash(cleaned["email"]) for _index, cleaned, _row in checked}
    suppressed = SuppressedAddress.objects.filter(address_hash__in=hashes)
    return CaptureFacts(
        survivors=survivors,
        refused_choices=frozenset(refused),
        suppressed=frozenset(suppressed.values_list("address_hash", flat=True)),
    )


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
    granted = {choice.purpose_key for choice in consents if choice.granted}
    if granted - double_opt_in_keys(granted):
        SuppressedAddress.objects.filter(address_hash=address_hash(cleaned["email"])).delete()
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
    return CaptureResult(lead_id=lead.pk, created=created, event_id=event.pk, lead=lead)


_INSERT_COLUMNS = [
    "email", *PROFILE_FIELDS, *NULLABLE_PROFILE_FIELDS, *FIRST_TOUCH_FIELDS, "is_decision_maker",
]  # fmt: skip
_ON_CONFLICT_SET = ", ".join(
    [
        *(f"{c} = COALESCE(NULLIF(EXCLUDED.{c}, ''), l.{c})" for c in PROFILE_FIELDS),
        *(f"{c} = COALESCE(EXCLUDED.{c}, l.{c})" for c in NULLABLE_PROFILE_FIELDS),
        *(f"{c} = COALESCE(NULLIF(l.{c}, ''), EXCLUDED.{c})" for c in FIRST_TOUCH_FIELDS),
        "is_decision_maker = CASE WHEN EXCLUDED.seniority <> '' THEN EXCLUDED.is_decision_maker"
        " ELSE l.is_decision_maker END",
        "updated_at = EXCLUDED.updated_at",
        "last_activity_at = GREATEST(l.last_activity_at, EXCLUDED.last_activity_at)",
    ]
)

# One statement: upsert the leads, add one event per row, the consents and one outbox row per
# lead. The partial unique index on active addresses makes concurrent captures of one address
# meet in ON CONFLICT instead of creating two leads; xmax = 0 tells an insert from an update.
# Event ids are drawn up front so each input row learns its own.
#
# `blocked` lists what the caller did not know: an address of a lead merged away (whose
# survivor the capture must update instead) and a consent choice that cannot be recorded (an
# unknown purpose, or a grant for one switched off or without a notice: the same rule as
# Purpose.with_grantable and PurposeRules). While it holds anything, nothing is written and
# the last column reports it; see CaptureFacts.learned.
#
# `lifted` takes the addresses of rows granting a consent recorded at once off the
# suppression list: a new, explicit consent is the one way back in for a person erased on
# request (a grant waiting for double opt-in lifts it when confirmed). A grant of a
# purpose that needs double opt-in is not recorded: `confirmations` asks for a task that
# mails the person a confirmation link (leads.tasks.request_confirmation_task).
#
# The rows come in as JSON documents rather than one array per column: dumping a few JSON
# strings costs the driver far less than dumping some forty arrays. The statement is longer
# than psycopg caches the parsing of (4,096 characters); parsing it again costs ~30 us, about
# 1% of a capture, which buys a readable statement.
_CAPTURE_SQL_TEXT = f"""
WITH given AS (
    SELECT * FROM jsonb_populate_recordset(NULL::leads_lead, %(leads)s::jsonb)
),
choices AS (
    SELECT * FROM jsonb_to_recordset(%(choices)s::jsonb)
        AS c(n integer, purpose_key text, granted boolean, notice_id bigint)
),
blocked AS (
    SELECT 'address' AS kind, gone.email AS key, s.email AS survivor, NULL AS granted
    FROM given JOIN leads_lead gone ON gone.email = given.email
    JOIN leads_lead s ON s.id = gone.merged_into_id
    UNION ALL
    SELECT DISTINCT 'purpose', c.purpose_key, NULL, c.granted
    FROM choices c LEFT JOIN consent_purpose p ON p.key = c.purpose_key
    WHERE p.id IS NULL OR (c.granted AND NOT (p.is_active AND EXISTS (
        SELECT 1 FROM consent_noticeversion v WHERE v.purpose_id = p.id)))
    UNION ALL
    SELECT 'suppressed', h, NULL, NULL FROM jsonb_array_elements_text(%(suppressed)s::jsonb) h
    JOIN privacy_suppressedaddress s ON s.address_hash = h
),
upsert AS (
    INSERT INTO leads_lead AS l ({", ".join(_INSERT_COLUMNS)},
        created_at, updated_at, last_activity_at)
    SELECT {", ".join(_INSERT_COLUMNS)}, %(now)s, %(now)s, %(occurred)s
    FROM given WHERE NOT EXISTS (SELECT FROM blocked)
    ON CONFLICT (email) WHERE merged_into_id IS NULL DO UPDATE SET {_ON_CONFLICT_SET}
    RETURNING l.*, (xmax = 0) AS inserted
),
touches AS (
    SELECT nextval(pg_get_serial_sequence('leads_event', 'id')) AS event_id, t.*
    FROM jsonb_to_recordset(%(touches)s::jsonb) AS t(n integer, email text, properties jsonb)
),
events AS (
    INSERT INTO leads_event (id, lead_id, type, url, occurred_at, properties, created_at)
    SELECT touches.event_id, upsert.id, %(event_type)s, %(url)s, %(occurred)s,
        touches.properties, %(now)s
    FROM touches JOIN upsert ON upsert.email = touches.email
),
chosen AS (
    SELECT upsert.id AS subject_id, purpose.id AS purpose_id, purpose.key AS purpose_key,
        choices.granted, choices.granted AND purpose.requires_double_opt_in AS to_confirm,
        CASE WHEN choices.granted THEN COALESCE(shown.id, newest.id) END AS notice_id,
        COALESCE(NULLIF(%(evidence)s, ''), 'event:' || touches.event_id) AS evidence
    FROM choices
    JOIN touches ON touches.n = choices.n
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
consents AS (
    INSERT INTO consent_consentrecord (subject_id, purpose_id, granted, notice_id, method,
        source, ip_address, user_agent, evidence, recorded_by_id, recorded_at)
    SELECT subject_id, purpose_id, granted, notice_id, %(method)s, %(source)s, %(ip)s::inet,
        %(user_agent)s, evidence, %(actor)s, %(now)s
    FROM chosen WHERE NOT to_confirm
),
confirmations AS (
    INSERT INTO outbox_outboxmessage (task, args, dedupe_key, created_at, attempts, last_error)
    SELECT %(confirm_task)s, jsonb_build_array(subject_id, purpose_key, notice_id, %(method)s,
        %(source)s, %(ip)s, %(user_agent)s, evidence, %(actor)s), '', %(now)s, 0, ''
    FROM chosen WHERE to_confirm
),
outbox AS (
    INSERT INTO outbox_outboxmessage (task, args, dedupe_key, created_at, attempts, last_error)
    SELECT %(task)s, jsonb_build_array(id), 'rescore:' || id, %(now)s, 0, '' FROM upsert
    ON CONFLICT DO NOTHING
),
lifted AS (
    DELETE FROM privacy_suppressedaddress s
    USING jsonb_to_recordset(%(lift)s::jsonb) AS x(n integer, h text)
    WHERE s.address_hash = x.h AND NOT EXISTS (SELECT FROM blocked)
    AND EXISTS (SELECT FROM choices c JOIN consent_purpose p ON p.key = c.purpose_key
        WHERE c.n = x.n AND c.granted AND NOT p.requires_double_opt_in)
)
SELECT touches.n, touches.event_id, upsert.*, (SELECT jsonb_agg(b) FROM blocked b)
FROM touches LEFT JOIN upsert ON upsert.email = touches.email
"""
CAPTURE_SQL = re.sub(r"\s*([,()=])\s*", r"\1", re.sub(r"\s+", " ", _CAPTURE_SQL_TEXT)).strip()


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


def _capture_in_one_statement(
    prepared, context, now, occurred_at, return_leads: bool
) -> tuple[dict[int, CaptureResult], list[dict] | None]:
    """Write the rows; or, when the statement met something `blocked`, nothing and that."""
    merged = _merged_by_address(prepared)
    leads = [{column: lead[column] for column in _INSERT_COLUMNS} for lead in merged.values()]
    touches = [
        {"n": index, "email": cleaned["email"], "properties": properties}
        for index, cleaned, _row, properties in prepared
    ]
    choices = [
        {"n": index, "purpose_key": c.purpose_key, "granted": c.granted, "notice_id": c.notice_id}
        for index, _cleaned, row, _properties in prepared
        for c in row.consents
    ]
    # Rows giving a consent are not checked against the suppression list; a consent
    # recorded at once lifts it (one waiting for double opt-in does when it is confirmed).
    checked = sorted(
        {address_hash(cleaned["email"]) for _i, cleaned, row, _p in prepared if not _grants(row)}
    )
    lift = [
        {"n": index, "h": address_hash(cleaned["email"])}
        for index, cleaned, row, _p in prepared
        if _grants(row)
    ]
    params = {
        "now": now,
        "occurred": occurred_at,
        "leads": json.dumps(leads, default=str),
        "touches": json.dumps(touches, default=str),
        "choices": json.dumps(choices),
        "suppressed": json.dumps(checked),
        "lift": json.dumps(lift),
        "event_type": str(context.event_type),
        "url": context.url[:2000],
        "method": str(context.consent_method),
        "source": context.consent_source[:500],
        "ip": context.ip_address,
        "user_agent": context.user_agent[:500],
        "evidence": context.evidence[:200],
        "actor": getattr(context.actor, "pk", None),
        "task": RESCORE_TASK,
        "confirm_task": CONFIRMATION_TASK,
    }
    try:
        # A row without consent may meet an erasure of its address committing meanwhile: the
        # statement read the suppression list before, waited on the erased lead's row and
        # then inserted the person anew. Then a second look (a fresh snapshot) sees the
        # list, and the whole capture is undone and reported as `blocked`. Rows granting a
        # consent come back of their own will, so they need no second look: nor does the
        # common capture, which stays one statement.
        with transaction.atomic() if checked else nullcontext():
            with prepared_cursor() as cursor:
                cursor.execute(CAPTURE_SQL, params)
                rows = cursor.fetchall()
                read_lead = _lead_reader(cursor)
            blocked = _json(rows[0][-1]) if rows else None
            if blocked:
                return {}, blocked
            results = _results(rows, read_lead, return_leads)
            if checked and any(result.created for result in results.values()):
                _raise_if_erased_meanwhile(checked)
    except _ErasedMeanwhile as erased:
        return {}, [{"kind": "suppressed", "key": key} for key in erased.hashes]
    return results, None


class _ErasedMeanwhile(Exception):
    def __init__(self, hashes: list[str]):
        self.hashes = hashes
        super().__init__(hashes)


def _raise_if_erased_meanwhile(hashes: list[str]) -> None:
    found = list(
        SuppressedAddress.objects.filter(address_hash__in=hashes).values_list(
            "address_hash", flat=True
        )
    )
    if found:
        raise _ErasedMeanwhile(found)


def _json(value):
    # Django has psycopg hand JSON over as text.
    return json.loads(value) if isinstance(value, str) else value


def _results(rows, read_lead, return_leads: bool) -> dict[int, CaptureResult]:
    # Only the first row of an address that did not exist yet created the lead.
    results: dict[int, CaptureResult] = {}
    first_row_of = {}
    for row_number, event_id, *lead_values, inserted, _blocked in sorted(rows):
        lead = read_lead(lead_values)
        created = inserted and lead.pk not in first_row_of
        first_row_of.setdefault(lead.pk, row_number)
        results[row_number] = CaptureResult(
            lead_id=lead.pk, created=created, event_id=event_id, lead=lead if return_leads else None
        )
    return results


_lead_readers: dict[str, object] = {}


def _lead_reader(cursor):
    """Turns a returned row of leads_lead's columns into a Lead, converted as the ORM would.

    Built once per process from the first statement's column names: a table's columns do
    not change under a running process, and reading the description costs every time."""
    if "lead" not in _lead_readers:
        # The lead's columns in the table's order (RETURNING l.*), between the event and
        # the `inserted` flag with the `blocked` report.
        columns = tuple(column.name for column in cursor.description[2:-2])
        _lead_readers["lead"] = _build_lead_reader(columns)
    return _lead_readers["lead"]


def _build_lead_reader(columns: tuple[str, ...]):
    # Lead.from_db takes the values in the model's field order, which a table's column
    # order need not follow (columns added later come last).
    position_of = {column: position for position, column in enumerate(columns)}
    fields = Lead._meta.concrete_fields
    order = [position_of[field.column] for field in fields]
    attnames = [field.attname for field in fields]
    conversions = []
    for position, model_field in enumerate(fields):
        expression = model_field.get_col(Lead._meta.db_table)
        converters = connection.ops.get_db_converters(expression)
        converters += model_field.get_db_converters(connection)
        if converters:
            conversions.append((position, expression, converters))

    def read(row: list) -> Lead:
        values = [row[position] for position in order]
        for position, expression, converters in conversions:
            for convert in converters:
                values[position] = convert(values[position], expression, connection)
        return Lead.from_db(connection.alias, attnames, values)

    return read
