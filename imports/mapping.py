"""From CSV columns to lead fields: suggesting a mapping and turning a row into capture input.

Pure functions, no ORM: the purposes that consent columns may name are passed in.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from consent.services import ConsentGiven
from leads.models import Seniority, Source, Timeframe
from leads.normalise import normalise_country
from leads.validation import LEAD_FIELDS

IGNORE = ""
CONSENT_PREFIX = "consent:"

# Headers people write, normalised (see normalise_header), per lead field. Exact field names
# match too. Dutch and English, as Dutch CRMs, webshops and Excel sheets export them.
SYNONYMS: dict[str, set[str]] = {
    "email": {"email", "emailadres", "emailaddress", "mail", "mailadres", "emailadress",
              "eaddress", "correspondentieemail", "zakelijkemail"},
    "first_name": {"firstname", "voornaam", "givenname", "roepnaam", "voornamen", "first"},
    "last_name": {"lastname", "achternaam", "surname", "familyname", "familienaam", "last"},
    "phone": {"phone", "telefoon", "telefoonnummer", "tel", "telnr", "phonenumber", "telephone",
              "mobiel", "mobile", "mobielnummer", "gsm", "mobilephone"},
    "company": {"company", "bedrijf", "bedrijfsnaam", "organisatie", "organization",
                "organisation", "companyname", "firma", "account", "werkgever"},
    "job_title": {"jobtitle", "functie", "functietitel", "title", "position", "functienaam",
                  "rol", "role"},
    "seniority": {"seniority", "senioriteit", "niveau", "functieniveau", "level"},
    "company_size": {"companysize", "bedrijfsgrootte", "medewerkers", "aantalmedewerkers",
                     "employees", "aantalwerknemers", "numberofemployees", "werknemers", "fte"},
    "industry": {"industry", "branche", "sector", "industrie", "branch"},
    "country": {"country", "land", "countrycode", "landcode"},
    "budget": {"budget", "budgetindicatie"},
    "need": {"need", "behoefte", "wens", "pain", "vraag", "opmerking", "opmerkingen", "notes",
             "toelichting", "needpain"},
    "timeframe": {"timeframe", "termijn", "tijdspad", "planning", "wanneer"},
    "source": {"source", "bron", "kanaal", "channel", "sourcechannel", "herkomst"},
    "campaign": {"campaign", "campagne"},
    "utm_source": {"utmsource"},
    "utm_medium": {"utmmedium"},
    "utm_campaign": {"utmcampaign"},
}  # fmt: skip
CONSENT_WORDS = ("consent", "toestemming", "optin", "akkoord")

GRANTED_WORDS = {"yes", "ja", "j", "y", "true", "waar", "1", "x", "granted", "optin"}
WITHDRAWN_WORDS = {"no", "nee", "n", "false", "onwaar", "0", "withdrawn", "optout"}


def normalise_header(header: str) -> str:
    """Lower case letters and digits only, accents dropped: "E-mailadres" -> "emailadres"."""
    decomposed = unicodedata.normalize("NFKD", header)
    return "".join(char for char in decomposed.casefold() if char.isalnum() and char.isascii())


def header_set_key(headers: Sequence[str]) -> str:
    """The same columns in the same order give the same key, however they are capitalised."""
    joined = "\x1f".join(normalise_header(header) for header in headers)
    return hashlib.sha256(joined.encode()).hexdigest()


@dataclass(frozen=True)
class PurposeNames:
    """A consent purpose as a column may name it: its key, or its English or Dutch name."""

    key: str
    names: tuple[str, ...] = ()  # English name, Dutch name

    @property
    def label(self) -> str:
        """The name in the current language, as consent.models.Purpose.name gives it."""
        if not self.names:
            return self.key
        dutch = translation.get_language() == "nl" and len(self.names) > 1
        return self.names[1] if dutch else self.names[0]


def consent_target(purpose_key: str) -> str:
    return f"{CONSENT_PREFIX}{purpose_key}"


def _consent_headers(purpose: PurposeNames) -> set[str]:
    words = {normalise_header(name) for name in (purpose.key, *purpose.names) if name}
    return words | {prefix + word for prefix in CONSENT_WORDS for word in words}


def suggest_mapping(headers: Sequence[str], purposes: Iterable[PurposeNames] = ()) -> list[str]:
    """A target per column: a lead field, a consent purpose, or IGNORE. Each target once."""
    by_header = {
        normalised: name
        for name in LEAD_FIELDS
        for normalised in {normalise_header(name), *SYNONYMS.get(name, ())}
    }
    for purpose in purposes:
        by_header |= dict.fromkeys(_consent_headers(purpose), consent_target(purpose.key))
    mapping: list[str] = []
    for header in headers:
        target = by_header.get(normalise_header(header), IGNORE)
        mapping.append(IGNORE if target in mapping else target)
    return mapping


def valid_targets(purpose_keys: Iterable[str]) -> set[str]:
    return {*LEAD_FIELDS, *(consent_target(key) for key in purpose_keys)}


def mapping_problems(mapping: Sequence[str]) -> list[str]:
    """What makes a mapping unusable, as messages; empty when it can be imported."""
    if "email" not in mapping:
        return [
            _(
                "Choose the column that holds the e-mail address: every lead is found and "
                "kept by its address, so a file without one cannot be imported."
            )
        ]
    return []


def parse_consent(raw: str) -> bool | None:
    """True for yes, False for no, None for an empty cell; ValueError for anything else."""
    word = normalise_header(raw)
    if not word:
        return None
    if word in GRANTED_WORDS:
        return True
    if word in WITHDRAWN_WORDS:
        return False
    raise ValueError(_("Write yes or no (ja or nee, 1 or 0, x), or leave the cell empty."))


@functools.cache
def _choice_keys(field_name: str) -> dict[str, str]:
    """Keys of a choice field by key and by label in every language, normalised."""
    choices = {"seniority": Seniority, "timeframe": Timeframe, "source": Source}[field_name]
    keys: dict[str, str] = {}
    for language in ("en", "nl"):
        with translation.override(language):
            keys |= {normalise_header(str(label)): value for value, label in choices.choices}
    keys |= {normalise_header(value): value for value in choices.values}
    return keys


CHOICE_FIELDS = ("seniority", "timeframe", "source")


@functools.lru_cache(maxsize=4096)
def _country_code(raw: str) -> str:
    try:
        return normalise_country(raw)
    except ValueError:
        return raw


@dataclass
class RowInput:
    """One CSV row as capture input, or the reasons it cannot be one."""

    data: dict[str, str] = field(default_factory=dict)
    consents: list[ConsentGiven] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)


def row_input(cells: Sequence[str], mapping: Sequence[str]) -> RowInput:
    """The lead data and consents of one row, as raw strings for `capture_leads`.

    Choice labels ("Directeur", "Within a month") become their keys, and country names their
    codes, so a spreadsheet written for people imports as it reads.
    """
    row = RowInput()
    extra = cells[len(mapping) :]
    if any(cell.strip() for cell in extra):
        row.errors["row"] = [
            _("This row has %(cells)s cells but the header names %(columns)s columns.")
            % {"cells": len(cells), "columns": len(mapping)}
        ]
    for target, raw in zip(mapping, cells, strict=False):
        if not target:
            continue
        value = raw.strip()
        if target.startswith(CONSENT_PREFIX):
            try:
                granted = parse_consent(value)
            except ValueError as error:
                row.errors[target] = [str(error)]
                continue
            if granted is not None:
                row.consents.append(ConsentGiven(target[len(CONSENT_PREFIX) :], granted))
        elif target in CHOICE_FIELDS and value:
            row.data[target] = _choice_keys(target).get(normalise_header(value), value)
        elif target == "country" and value:
            # normalise_country looks names up in every language, milliseconds a call; a file
            # repeats a handful of countries, so each is looked up once.
            row.data[target] = _country_code(value)
        else:
            row.data[target] = value
    return row
