import json

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from api.exceptions import RequestTooLarge

# The largest body the API reads: a batch of 500 events of a few kilobytes each.
MAX_BODY_BYTES = 4 * 1024 * 1024


class BoundedJSONParser(BaseParser):
    """JSON bodies up to MAX_BODY_BYTES, with a translatable message for every bad body.

    Not a subclass of DRF's JSONParser on purpose: DRF hands that one `request.body`, which
    Django refuses beyond DATA_UPLOAD_MAX_MEMORY_SIZE with an HTML 400. This one reads the
    stream itself and stops one byte past the limit, however long the body claims to be.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise RequestTooLarge()
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(_("The body is not valid UTF-8 text.")) from error
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise ParseError(
                _("The body is not valid JSON (line %(line)s, column %(column)s).")
                % {"line": error.lineno, "column": error.colno}
            ) from error
        except (ValueError, RecursionError) as error:
            # NaN and Infinity are not JSON; nesting thousands deep is an attack.
            raise ParseError(_("The body is not valid JSON.")) from error


def _refuse_constant(name: str):
    raise ValueError(name)
