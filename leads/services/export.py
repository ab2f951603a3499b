"""Leads out as CSV, with the column names of the API and the CSV import."""

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from leads.models import Lead

# The API's field names, then what Leadladder adds.
CSV_COLUMNS = [
    "email", "first_name", "last_name", "phone", "company", "job_title", "seniority",
    "company_size", "industry", "country", "budget", "need", "timeframe", "source",
    "campaign", "utm_source", "utm_medium", "utm_campaign",
    "stage", "score", "owner", "created_at",
]  # fmt: skip

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection): a
# lead who types `=HYPERLINK(...)` as their company must not get a link into our exports.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number such as a phone number in E.164 (+31612345678) cannot call anything, and
# quoting it would spoil every exported phone number.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")

# A campaign file adds where each person withdraws their consent: every message sent from
# it must carry that link. Not the preference link: it can also grant, and a file passes
# through many hands; the person gets it in the mails Leadladder sends itself.
CAMPAIGN_COLUMNS = [*CSV_COLUMNS, "withdraw_url"]

CHUNK_SIZE = 2000
# Excel reads a CSV file as UTF-8 (Müller, Chloé) only when it starts with a byte order mark;
# our own import accepts files with or without one.
BYTE_ORDER_MARK = "\ufeff"


def neutralise_formula(text: str) -> str:
    """`text`, made inert for spreadsheets: a leading quote if it could start a formula."""
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, bool | int | Decimal):
        return str(value)
    return neutralise_formula(str(value))


def lead_row(lead: Lead) -> list[str]:
    values = {name: getattr(lead, name) for name in CSV_COLUMNS if name != "owner"}
    values["owner"] = lead.owner.username if lead.owner else ""
    return [_cell(values[name]) for name in CSV_COLUMNS]


class _Echo:
    """A file that hands back what is written to it, so csv.writer makes lines to stream."""

    def write(self, value: str) -> str:
        return value


def export_leads_csv(*, leads: QuerySet[Lead]) -> Iterator[str]:
    """The lines of a CSV file of `leads`, header first, produced as they are read.

    Meant for a StreamingHttpResponse: rows are fetched in chunks through a server-side
    cursor, so exporting a million leads never holds them all in memory.
    """
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow(CSV_COLUMNS)
    rows: Iterable[Lead] = leads.select_related("owner").iterator(chunk_size=CHUNK_SIZE)
    for lead in rows:
        yield writer.writerow(lead_row(lead))


def export_campaign_csv(*, leads: QuerySet[Lead]) -> Iterator[str]:
    """As export_leads_csv, for a campaign: only leads with marketing consent now, each with
    its signed one-click withdrawal link."""
    from consent.links import withdrawal_url
    from leads.filters import has_marketing_consent

    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow(CAMPAIGN_COLUMNS)
    consented = leads.filter(has_marketing_consent()).select_related("owner")
    for lead in consented.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([*lead_row(lead), withdrawal_url(lead.pk)])
