"""A realistic Dutch and international B2B/B2C dataset, generated deterministically.

Used by `manage.py seed_demo` and by the benchmarks. The same index always yields the same
person, so loading twice never duplicates: rows whose e-mail already exists are skipped.
On PostgreSQL rows go in through COPY with pre-reserved ids (a million leads in well under
a minute); elsewhere through bulk_create.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from leads.models import Event, EventType, Lead, Seniority, Source, Stage, Timeframe

FIRST_NAMES = {
    "NL": [
        "Sanne",
        "Daan",
        "Emma",
        "Lars",
        "Femke",
        "Jeroen",
        "Lotte",
        "Bram",
        "Anouk",
        "Thijs",
        "Iris",
        "Ruben",
        "Noor",
        "Sem",
        "Marloes",
        "Pieter",
        "Esther",
        "Wouter",
        "Fleur",
        "Koen",
    ],
    "BE": ["Lien", "Wout", "Elke", "Pieter-Jan", "Charlotte", "Jonas", "Hanne", "Arne", "Lore"],
    "DE": ["Lena", "Jonas", "Katrin", "Matthias", "Anna", "Felix", "Julia", "Stefan", "Miriam"],
    "GB": ["Olivia", "James", "Amelia", "Harry", "Charlotte", "George", "Sophie", "Oliver"],
    "FR": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Antoine", "Manon", "Théo"],
    "US": ["Emily", "Michael", "Madison", "Jacob", "Ashley", "Ethan", "Hannah", "Tyler"],
}
LAST_NAMES = {
    "NL": [
        "de Vries",
        "Jansen",
        "van den Berg",
        "Bakker",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
        "Peters",
        "Hendriks",
        "van Dijk",
        "Dekker",
    ],
    "BE": ["Peeters", "Janssens", "Maes", "Willems", "Claes", "Goossens", "Wouters", "De Smet"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"],
    "US": ["Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson", "Moore"],
}
COMPANY_STEMS = {
    "NL": [
        "Van der Berg",
        "De Hoop",
        "Noordzee",
        "Polder",
        "Kroon",
        "Zilverberg",
        "Dijkstra",
        "Groenhuis",
        "Meerwijk",
        "Oranje",
        "Lindeboom",
        "Brugman",
        "Koopmans",
        "Rivierland",
    ],
    "BE": ["Schelde", "Ardennen", "Kempen", "Leie", "Brabo", "Vlaeminck"],
    "DE": ["Nordwind", "Rheintal", "Alpenblick", "Hansa", "Schwarzwald", "Elbe"],
    "GB": ["Atlas", "Brightwater", "Kingsbridge", "Thames", "Oakfield", "Redhill"],
    "FR": ["Lumière", "Belvédère", "Provence", "Seine", "Mistral"],
    "US": ["Brightpath", "Summit", "Pioneer", "Redwood", "Keystone", "Liberty"],
}
COMPANY_SECTORS = [
    ("Installatietechniek", "Construction"),
    ("Logistics", "Logistics"),
    ("Zorggroep", "Healthcare"),
    ("ICT", "IT"),
    ("Software", "IT"),
    ("Metaal", "Manufacturing"),
    ("Manufacturing", "Manufacturing"),
    ("Advies", "Professional services"),
    ("Accountants", "Finance"),
    ("Bouw", "Construction"),
    ("Retail", "Retail"),
    ("Onderwijs", "Education"),
    ("Energie", "Energy"),
]
LEGAL_FORMS = {"NL": "B.V.", "BE": "NV", "DE": "GmbH", "GB": "Ltd", "FR": "SAS", "US": "Inc."}
TLDS = {"NL": "nl", "BE": "be", "DE": "de", "GB": "co.uk", "FR": "fr", "US": "com"}
COUNTRY_WEIGHTS = [("NL", 55), ("BE", 15), ("DE", 12), ("GB", 8), ("FR", 5), ("US", 5)]
FREE_MAIL_DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "live.nl"]
JOB_TITLES = [
    ("Directeur", Seniority.EXECUTIVE, True),
    ("CEO", Seniority.EXECUTIVE, True),
    ("Eigenaar", Seniority.EXECUTIVE, True),
    ("CFO", Seniority.EXECUTIVE, True),
    ("Hoofd inkoop", Seniority.DIRECTOR, True),
    ("Head of Operations", Seniority.DIRECTOR, True),
    ("IT-manager", Seniority.MANAGER, True),
    ("Marketing manager", Seniority.MANAGER, False),
    ("Operationeel manager", Seniority.MANAGER, False),
    ("Inkoper", Seniority.SPECIALIST, False),
    ("Office manager", Seniority.SPECIALIST, False),
    ("Procurement specialist", Seniority.SPECIALIST, False),
    ("Student bedrijfskunde", Seniority.STUDENT, False),
]
PHONE_PREFIXES = {
    "NL": "+316",
    "BE": "+324",
    "DE": "+4915",
    "GB": "+447",
    "FR": "+336",
    "US": "+1415",
}
COMPANY_SIZES = [3, 8, 15, 35, 60, 120, 250, 600, 1500, 5000]
BUDGETS = [Decimal(v) for v in ("2500", "5000", "10000", "25000", "50000", "100000")]
CAMPAIGNS = {
    Source.WEB_FORM: [
        ("Whitepaper AVG-proof leads", "linkedin", "paid-social"),
        ("Webinar leadscoring", "newsletter", "email"),
        ("Google Ads Q3", "google", "cpc"),
    ],
    Source.IMPORT: [("Beurs Vakdagen 2026", "", "")],
    Source.API: [("Website chat", "website", "chat")],
    Source.EVENT: [("Marketing Expo Utrecht", "", "")],
    Source.REFERRAL: [("Klant-werft-klant", "referral", "partner")],
    Source.GIVEAWAY: [("Winactie iPad", "facebook", "paid-social")],
    Source.MANUAL: [("", "", "")],
}
SOURCE_WEIGHTS = [
    (Source.WEB_FORM, 45),
    (Source.IMPORT, 15),
    (Source.API, 10),
    (Source.EVENT, 8),
    (Source.REFERRAL, 7),
    (Source.GIVEAWAY, 10),
    (Source.MANUAL, 5),
]
STAGE_WEIGHTS = [
    (Stage.CONTACT, 36),
    (Stage.LEAD, 30),
    (Stage.MQL, 12),
    (Stage.SQL, 6),
    (Stage.OPPORTUNITY, 4),
    (Stage.WON, 2),
    (Stage.LOST, 3),
    (Stage.NURTURE, 5),
    (Stage.DISQUALIFIED, 2),
]
STAGE_SCORE = {
    Stage.CONTACT: (-10, 10),
    Stage.LEAD: (5, 45),
    Stage.MQL: (50, 95),
    Stage.SQL: (55, 110),
    Stage.OPPORTUNITY: (60, 120),
    Stage.WON: (60, 130),
    Stage.LOST: (40, 110),
    Stage.NURTURE: (10, 50),
    Stage.DISQUALIFIED: (-20, 20),
}
NEEDS = [
    "Wij willen leads uit de website automatisch kwalificeren.",
    "Our sales team loses track of inbound requests.",
    "Op zoek naar een AVG-proof manier om toestemmingen vast te leggen.",
    "Need a clearer hand-over between marketing and sales.",
    "We groeien hard en willen ons verkoopproces professionaliseren.",
    "",
]
PAGES = [
    "/",
    "/prijzen",
    "/pricing",
    "/producten",
    "/oplossingen/leadscoring",
    "/blog/wat-is-een-mql",
    "/blog/leadkwalificatie",
    "/contact",
    "/cases",
    "/over-ons",
]
EVENT_WEIGHTS = [
    (EventType.PAGE_VIEW, 60),
    (EventType.EMAIL_OPEN, 14),
    (EventType.EMAIL_CLICK, 8),
    (EventType.FORM_SUBMISSION, 10),
    (EventType.CONSULTATION_REQUEST, 4),
    (EventType.QUOTE_REQUEST, 2),
    (EventType.CALL, 1),
    (EventType.MEETING, 1),
]
HISTORY_DAYS = 540

# Other apps add their demo records (a web form, ...) by decorating a function in their own
# `demo.py` with @demo_seeder; `seed_demo` runs them after the leads.
DEMO_SEEDERS: list = []


def demo_seeder(function):
    DEMO_SEEDERS.append(function)
    return function


def _weighted(rng: random.Random, weighted: list[tuple]):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


@dataclass
class DemoOwners:
    """Who owns leads that sales has touched, cycling through the reps."""

    rep_ids: list[int]

    def pick(self, rng: random.Random) -> int | None:
        return rng.choice(self.rep_ids) if self.rep_ids else None


def demo_lead(index: int, *, now: datetime, owners: DemoOwners) -> dict:
    """The demo lead number `index`: same index, same person, every time."""
    rng = random.Random(index * 7919 + 17)
    country = _weighted(rng, COUNTRY_WEIGHTS)
    first = rng.choice(FIRST_NAMES[country])
    last = rng.choice(LAST_NAMES[country])
    source = _weighted(rng, SOURCE_WEIGHTS)
    is_business = source != Source.GIVEAWAY and rng.random() < 0.8
    local = f"{_ascii_slug(first)}.{_ascii_slug(last)}.{index}"
    stage = _weighted(rng, STAGE_WEIGHTS)
    created = now - timedelta(days=rng.random() * HISTORY_DAYS)
    campaign, utm_source, utm_medium = rng.choice(CAMPAIGNS[source])
    row = {
        "first_name": first,
        "last_name": last,
        "phone": PHONE_PREFIXES[country] + "".join(str(rng.randrange(10)) for _ in range(8))
        if rng.random() < 0.6
        else "",
        "country": country,
        "source": source,
        "campaign": campaign,
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": _ascii_slug(campaign) if utm_source else "",
        "stage": stage,
        "score": rng.randint(*STAGE_SCORE[stage]),
        "created_at": created,
        "updated_at": created,
        "owner_id": owners.pick(rng)
        if stage in (Stage.SQL, Stage.OPPORTUNITY, Stage.WON, Stage.LOST)
        else None,
        "need": "",
        "company": "",
        "job_title": "",
        "seniority": "",
        "is_decision_maker": False,
        "company_size": None,
        "industry": "",
        "budget": None,
        "timeframe": "",
    }
    if is_business:
        stem = rng.choice(COMPANY_STEMS[country])
        sector, industry = rng.choice(COMPANY_SECTORS)
        title, seniority, decides = rng.choice(JOB_TITLES)
        row.update(
            company=f"{stem} {sector} {LEGAL_FORMS[country]}",
            job_title=title,
            seniority=seniority,
            is_decision_maker=decides,
            company_size=rng.choice(COMPANY_SIZES),
            industry=industry,
            budget=rng.choice(BUDGETS) if rng.random() < 0.45 else None,
            timeframe=rng.choice([*Timeframe.values, ""]),
            need=rng.choice(NEEDS),
        )
        row["email"] = f"{local}@{_ascii_slug(stem)}{_ascii_slug(sector)}.{TLDS[country]}"
    else:
        row["email"] = f"{local}@{rng.choice(FREE_MAIL_DOMAINS)}"
    fit = 15 * row["is_decision_maker"] + 10 * (row["budget"] is not None)
    row["fit_score"] = min(fit, row["score"]) if row["score"] > 0 else 0
    row["engagement_score"] = row["score"] - row["fit_score"]
    return row


def demo_events(index: int, lead: dict, *, now: datetime, per_lead: float) -> list[dict]:
    """The events of demo lead `index`: about `per_lead` on average, more for hotter stages."""
    rng = random.Random(index * 104729 + 3)
    heat = {
        Stage.CONTACT: 0.4,
        Stage.LEAD: 0.8,
        Stage.MQL: 1.6,
        Stage.SQL: 1.8,
        Stage.OPPORTUNITY: 2.0,
        Stage.WON: 2.0,
        Stage.LOST: 1.5,
    }.get(lead["stage"], 0.7)
    count = min(int(rng.expovariate(1 / (per_lead * heat))) if per_lead else 0, 60)
    span = max((now - lead["created_at"]).total_seconds(), 60.0)
    events = []
    for _ in range(count):
        kind = _weighted(rng, EVENT_WEIGHTS)
        occurred = lead["created_at"] + timedelta(seconds=rng.random() * span)
        url = ""
        properties: dict = {}
        if kind == EventType.PAGE_VIEW:
            url = "https://www.leadladder-demo.nl" + rng.choice(PAGES)
        elif kind in (EventType.EMAIL_OPEN, EventType.EMAIL_CLICK):
            properties = {"mailing": rng.choice(["Nieuwsbrief oktober", "Webinar invite"])}
        elif kind == EventType.FORM_SUBMISSION:
            properties = {"form": rng.choice(["whitepaper", "newsletter", "contact"])}
        events.append({"type": kind, "url": url, "occurred_at": occurred, "properties": properties})
    return events


LEAD_COLUMNS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "seniority",
    "is_decision_maker",
    "company_size",
    "industry",
    "country",
    "budget",
    "need",
    "timeframe",
    "source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "owner_id",
    "stage",
    "score",
    "fit_score",
    "engagement_score",
    "created_at",
    "updated_at",
    "last_activity_at",
]
EVENT_COLUMNS = ["lead_id", "type", "url", "occurred_at", "properties", "created_at"]


# Which consents a demo person gave when they came in: (purpose, share granting it). Some of
# the marketing grants are withdrawn later. Profiling is on consent, so leads without it are
# scored on what they told us only.
DEMO_CONSENTS = [("contact", 0.95), ("profiling", 0.85), ("marketing_email", 0.6)]
DEMO_WITHDRAWN_MARKETING = 0.1


def demo_consents(index: int, lead: dict) -> list[tuple[str, bool, datetime]]:
    """The consent choices of demo lead `index`: (purpose key, granted, when)."""
    rng = random.Random(index * 104_729 + 3)
    came_in = lead["created_at"]
    choices = [(key, True, came_in) for key, share in DEMO_CONSENTS if rng.random() < share]
    if any(key == "marketing_email" for key, *_ in choices) and (
        rng.random() < DEMO_WITHDRAWN_MARKETING
    ):
        choices.append(("marketing_email", False, came_in + timedelta(days=rng.randint(1, 90))))
    return choices


def _demo_notices() -> dict[str, tuple[int, int]]:
    """Purpose key -> (purpose id, newest notice id) for the purposes demo leads choose."""
    from consent.models import NoticeVersion

    newest: dict[str, tuple[int, int]] = {}
    keys = [key for key, _share in DEMO_CONSENTS]
    for notice in NoticeVersion.objects.filter(purpose__key__in=keys).order_by("version"):
        newest[notice.purpose.key] = (notice.purpose_id, notice.pk)
    return newest


def _consent_rows(new: dict[int, dict], ids: dict[int, int], notices) -> Iterator[tuple]:
    for index, row in new.items():
        for key, granted, at in demo_consents(index, row):
            if key in notices:
                purpose_id, notice_id = notices[key]
                yield (ids[index], purpose_id, granted, notice_id if granted else None,
                       "import", "demo data", "", f"demo:{index}", at)  # fmt: skip


CONSENT_COLUMNS = ["subject_id", "purpose_id", "granted", "notice_id", "method", "source",
                   "user_agent", "evidence", "recorded_at"]  # fmt: skip


def _reserve_ids(table: str, count: int) -> int:
    """Reserve `count` consecutive ids from the table's sequence; returns the first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
            " nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
            [table, table, count],
        )
        last = cursor.fetchone()[0]
    return last - count + 1


def _copy(table: str, columns: list[str], rows: Iterator[tuple]) -> None:
    with connection.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


@dataclass
class LoadResult:
    leads: int = 0
    events: int = 0
    transitions: int = 0


def load_demo_leads(
    count: int,
    *,
    owners: DemoOwners,
    events_per_lead: float = 3.0,
    batch_size: int = 20_000,
    first_index: int = 0,
    now: datetime | None = None,
    progress=None,
) -> LoadResult:
    """Make sure demo leads first_index..first_index+count-1 exist, with their events."""
    now = now or timezone.now()
    result = LoadResult()
    end = first_index + count
    for start in range(first_index, end, batch_size):
        indexes = range(start, min(start + batch_size, end))
        rows = {index: demo_lead(index, now=now, owners=owners) for index in indexes}
        existing = set(
            Lead.objects.filter(email__in=[row["email"] for row in rows.values()]).values_list(
                "email", flat=True
            )
        )
        new = {index: row for index, row in rows.items() if row["email"] not in existing}
        if new:
            events = {
                index: demo_events(index, row, now=now, per_lead=events_per_lead)
                for index, row in new.items()
            }
            for index, row in new.items():
                times = [event["occurred_at"] for event in events[index]]
                row["last_activity_at"] = max(times) if times else None
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    _copy_batch(new, events, now)
                else:
                    _bulk_create_batch(new, events, now)
                result.transitions += _write_histories(
                    [(row["id"], index, row) for index, row in new.items()], now, owners
                )
            result.leads += len(new)
            result.events += sum(len(evs) for evs in events.values())
        if progress:
            progress(min(start + batch_size, end) - first_index, count)
    return result


def _copy_batch(new: dict[int, dict], events: dict[int, list[dict]], now: datetime) -> None:
    first_id = _reserve_ids("leads_lead", len(new))
    ids = {}
    lead_rows = []
    for offset, (index, row) in enumerate(new.items()):
        ids[index] = first_id + offset
        row["id"] = ids[index]
        lead_rows.append(tuple(row[column] for column in LEAD_COLUMNS))
    _copy("leads_lead", LEAD_COLUMNS, iter(lead_rows))
    event_rows = (
        (ids[index], ev["type"], ev["url"], ev["occurred_at"], json.dumps(ev["properties"]), now)
        for index, evs in events.items()
        for ev in evs
    )
    _copy("leads_event", EVENT_COLUMNS, event_rows)
    _copy("consent_consentrecord", CONSENT_COLUMNS, _consent_rows(new, ids, _demo_notices()))


def _bulk_create_batch(new: dict[int, dict], events: dict[int, list[dict]], now: datetime) -> None:
    leads = Lead.objects.bulk_create([Lead(**row) for row in new.values()], batch_size=500)
    for lead, row in zip(leads, new.values(), strict=True):
        row["id"] = lead.pk
    # auto_now fields are overwritten by bulk_create; put the demo history back.
    for lead, row in zip(leads, new.values(), strict=True):
        lead.created_at = row["created_at"]
        lead.updated_at = row["updated_at"]
    Lead.objects.bulk_update(leads, ["created_at", "updated_at"], batch_size=500)
    Event.objects.bulk_create(
        [
            Event(lead=lead, **event)
            for lead, index in zip(leads, new, strict=True)
            for event in events[index]
        ],
        batch_size=1000,
    )
    from consent.models import ConsentRecord

    ids = {index: lead.pk for lead, index in zip(leads, new, strict=True)}
    records = [
        ConsentRecord(**dict(zip(CONSENT_COLUMNS, row, strict=True)))
        for row in _consent_rows(new, ids, _demo_notices())
    ]
    created = ConsentRecord.objects.bulk_create(records, batch_size=1000)
    # recorded_at is auto_now_add; the demo history keeps its own times, through the one
    # path allowed to rewrite records.
    from consent.services import rewriting_consent_records

    times = [row[-1] for row in _consent_rows(new, ids, _demo_notices())]
    for record, at in zip(created, times, strict=True):
        record.recorded_at = at
    with rewriting_consent_records():
        ConsentRecord.objects.bulk_update(created, ["recorded_at"], batch_size=500)


# --- Stage histories ---------------------------------------------------------------------------

# The path through the funnel to each stage a demo lead can stand in.
_PATHS = {
    Stage.CONTACT: [],
    Stage.LEAD: [Stage.LEAD],
    Stage.MQL: [Stage.LEAD, Stage.MQL],
    Stage.SQL: [Stage.LEAD, Stage.MQL, Stage.SQL],
    Stage.OPPORTUNITY: [Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY],
    Stage.WON: [Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON],
    Stage.LOST: [Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.LOST],
    Stage.NURTURE: [Stage.LEAD, Stage.MQL, Stage.NURTURE],
    Stage.DISQUALIFIED: [Stage.LEAD, Stage.MQL, Stage.DISQUALIFIED],
}
# Mean days before a lead moves into the stage; long paths are squeezed into its lifetime.
_MEAN_DAYS = {
    Stage.CONTACT: 20.0,
    Stage.LEAD: 3.0,
    Stage.MQL: 12.0,
    Stage.SQL: 4.0,
    Stage.OPPORTUNITY: 15.0,
    Stage.WON: 30.0,
    Stage.LOST: 30.0,
    Stage.NURTURE: 5.0,
    Stage.DISQUALIFIED: 5.0,
}
# Scores fade and come back: how likely another round of falling back a stage and climbing
# again is (a geometric number of rounds, 2 moves each; about 3 moves a lead in all).
_BOUNCE_CHANCE = 0.45
_AUTOMATIC = {Stage.CONTACT, Stage.LEAD, Stage.MQL}
_BANT = [
    {"budget": "€ 25.000 dit jaar", "authority": "Directeur beslist", "need": "Leads kwalificeren",
     "timeline": "Binnen een kwartaal"},
    {"budget": "Approved for Q3", "authority": "Head of Operations signs", "need": "Hand-over",
     "timeline": "This half year"},
]  # fmt: skip
_REJECTIONS = ["not_ready", "no_budget", "no_authority", "no_need", "unreachable", "wrong_data",
               "not_a_buyer", "other"]  # fmt: skip
_LOSSES = ["price", "competitor", "no_decision", "timing", "fit", "other"]
_OUTCOME_REASONS = {
    Stage.WON: "Offerte getekend",
    Stage.LOST: "Deal verloren",
    Stage.NURTURE: "Nog niet klaar om te kopen",
    Stage.DISQUALIFIED: "Geen geschikte lead",
}
HISTORY_COLUMNS = ["lead_id", "from_stage", "to_stage", "actor_id", "reason", "score",
                   "details", "occurred_at"]  # fmt: skip


def demo_history(index: int, lead: dict, *, now: datetime, owners: DemoOwners) -> list[dict]:
    """The stage transitions of demo lead `index` up to its current stage, in order, dated
    between its creation and `now`: the scoring engine's moves without an actor, sales's with
    a demo rep and what the policy asks for (BANT, an offer, a reason)."""
    rng = random.Random(index * 15_485_863 + 11)
    stage = Stage(lead["stage"])
    steps = list(_PATHS[stage])
    # Fading scores: a contact that became a lead and fell back, a lead or MQL that did.
    bounces = 0
    while rng.random() < _BOUNCE_CHANCE and bounces < 6:
        bounces += 1
    if bounces:
        if not steps:
            low, high, at = Stage.CONTACT, Stage.LEAD, 0
        elif steps[0] == Stage.LEAD and len(steps) == 1:
            low, high, at = Stage.CONTACT, Stage.LEAD, 1
        else:
            low, high, at = Stage.LEAD, Stage.MQL, 2
        steps[at:at] = [high, low] * bounces if at == 0 else [low, high] * bounces
    gaps = [rng.expovariate(1 / _MEAN_DAYS[step]) for step in steps]
    span_days = max((now - lead["created_at"]).total_seconds() / 86400, 0.01)
    if sum(gaps) > span_days * 0.98:
        factor = span_days * 0.98 / sum(gaps)
        gaps = [gap * factor for gap in gaps]
    actor = lead.get("owner_id") or owners.pick(rng)
    moves, current, at = [], Stage.CONTACT, lead["created_at"]
    for step, gap in zip(steps, gaps, strict=True):
        at = at + timedelta(days=gap, microseconds=1)
        details: dict = {}
        if step == Stage.SQL:
            details = {"bant": rng.choice(_BANT)}
        elif step == Stage.OPPORTUNITY:
            close = (at + timedelta(days=rng.randint(14, 120))).date().isoformat()
            details = {
                "offer": {"amount": f"{rng.choice(BUDGETS)}.00", "expected_close_date": close}
            }
        elif step in (Stage.NURTURE, Stage.DISQUALIFIED) and current == Stage.MQL:
            details = {"rejection": rng.choice(_REJECTIONS)}
        elif step == Stage.LOST:
            details = {"loss": rng.choice(_LOSSES)}
        moves.append(
            {
                "from_stage": current,
                "to_stage": step,
                "actor_id": None if step in _AUTOMATIC else actor,
                "reason": _OUTCOME_REASONS.get(step, ""),
                "score": lead.get("score", 0),
                "details": details,
                "occurred_at": min(at, now),
            }
        )
        current = step
    return moves


def _history_rows(leads: Iterator[tuple[int, int, dict]], now: datetime, owners: DemoOwners):
    for lead_id, index, lead in leads:
        for move in demo_history(index, lead, now=now, owners=owners):
            yield (lead_id, move["from_stage"], move["to_stage"], move["actor_id"],
                   move["reason"], move["score"], json.dumps(move["details"]),
                   move["occurred_at"])  # fmt: skip


def _write_histories(leads: list[tuple[int, int, dict]], now: datetime, owners: DemoOwners) -> int:
    """Insert the histories of (lead id, demo index, lead row); returns how many moves."""
    rows = list(_history_rows(iter(leads), now, owners))
    if connection.vendor == "postgresql":
        _copy("scoring_stagetransition", HISTORY_COLUMNS, iter(rows))
    else:
        from scoring.models import StageTransition

        # The rows carry details as JSON text for COPY; the ORM wants the dict.
        fields = [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in rows]
        for one in fields:
            one["details"] = json.loads(one["details"])
        created = StageTransition.objects.bulk_create(
            [StageTransition(**one) for one in fields], batch_size=1000
        )
        # occurred_at is auto_now_add: put the demo dates back.
        for transition, row in zip(created, rows, strict=True):
            transition.occurred_at = row[-1]
        StageTransition.objects.bulk_update(created, ["occurred_at"], batch_size=500)
    return len(rows)


def _index_of(email: str, fallback: int) -> int:
    """The demo index in a demo address (first.last.<index>@...), else `fallback`."""
    local = email.split("@", 1)[0]
    tail = local.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else fallback


def ensure_demo_histories(
    *, owners: DemoOwners, now: datetime | None = None, batch_size: int = 50_000, progress=None
) -> int:
    """Give every lead without any stage transition the demo history of its stage (leads
    loaded before histories existed). Idempotent: a lead with history is left alone."""
    now = now or timezone.now()
    written, last_id = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                Lead.objects.filter(pk__gt=last_id, transitions__isnull=True)
                .order_by("pk")
                .values_list("pk", "email", "created_at", "stage", "score", "owner_id")[:batch_size]
            )
            if not batch:
                return written
            last_id = batch[-1][0]
            leads = [
                (
                    pk,
                    _index_of(email, pk),
                    {"created_at": created, "stage": stage, "score": score, "owner_id": owner_id},
                )  # fmt: skip
                for pk, email, created, stage, score, owner_id in batch
            ]
            written += _write_histories(leads, now, owners)
        if progress:
            progress(last_id, written)
