"""Turning what people type into the one form Leadladder stores. Pure functions, no ORM.

Each raises ValueError with a message fit to show the person who typed the value.
"""

import functools
import re
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.utils.translation import gettext as _
from django_countries import countries

DEFAULT_PHONE_REGION = "NL"


def normalise_email(raw: str) -> str:
    """Lower-case and trimmed: one person, one address, however they typed it."""
    return raw.strip().lower()


def normalise_phone(raw: str, *, country: str = "") -> str:
    """E.164 (+31612345678). A number without country code is read as one of `country`,
    or Dutch when the country is not known."""
    raw = raw.strip()
    if not raw:
        return ""
    region = (country or DEFAULT_PHONE_REGION).upper()
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(_("This is not a phone number.")) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("This phone number does not exist; check the digits and country code."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def normalise_country(raw: str) -> str:
    """An ISO 3166-1 alpha-2 code from a code (nl, NLD) or a name in English or Dutch.

    Cached: looking a name up walks every country's translated name (milliseconds), and
    imports and forms repeat the same few countries endlessly."""
    raw = raw.strip()
    if not raw:
        return ""
    code = countries.alpha2(raw)
    if not code:
        code = countries.by_name(raw) or countries.by_name(raw, language="nl")
    if not code:
        raise ValueError(_("Unknown country: use a code such as NL or a name such as Belgium."))
    return code


_AMOUNT_NOISE = re.compile(r"[\s€$£]|EUR|eur")


def parse_amount(raw: str | int | float | Decimal | None) -> Decimal | None:
    """A money amount as Dutch or English people write it: 25.000,50 or 25,000.50 or 25000."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        amount = Decimal(str(raw))
    else:
        text = _AMOUNT_NOISE.sub("", str(raw))
        if "," in text and "." in text:
            # Whichever separator comes last is the decimal one.
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            whole, _sep, fraction = text.rpartition(",")
            text = (
                f"{whole.replace(',', '')}.{fraction}"
                if len(fraction) != 3
                else text.replace(",", "")
            )
        elif text.count(".") > 1 or re.fullmatch(r"\d{1,3}\.\d{3}", text):
            text = text.replace(".", "")
        try:
            amount = Decimal(text)
        except InvalidOperation as error:
            raise ValueError(_("Enter an amount, such as 25000 or 25.000,00.")) from error
    if not amount.is_finite() or amount < 0:
        raise ValueError(_("Enter an amount of zero or more."))
    if amount >= Decimal("10000000000"):
        raise ValueError(_("This amount is too large."))
    return amount.quantize(Decimal("0.01"))
