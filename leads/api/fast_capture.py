"""The common API capture, answered without DRF's request machinery.

`POST /api/v1/leads/` is the busiest write endpoint: websites and integrations call it for
every form a visitor fills in. Most calls are well-formed: a token, a JSON object of lead
fields, maybe consents. For those, DRF's per-request work (wrapping the request, content
negotiation, building a serializer and deep-copying its fields, rendering) cost more than
the capture itself. This path checks the same things directly and calls the same
`capture_lead`; whatever it is not sure about (any error, another kind of credentials, an
Idempotency-Key, an unusual value shape) it leaves to the DRF view, which then answers
exactly as it always does. So it may only ever answer a request the DRF view would accept,
with the same answer; `leads/tests/test_api.py` runs the capture tests through both.
"""

from __future__ import annotations

import ipaddress
import json
import re

from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from api.authentication import RoleTokenAuthentication
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.permissions import holds_any
from consent.models import ConsentMethod
from consent.services import ConsentGiven
from leads.api.serializers import LeadSerializer
from leads.models import Source
from leads.services.capture import CaptureContext, CaptureRejected, capture_lead
from leads.validation import LEAD_FIELDS

# A single lead is a few hundred bytes; anything much larger takes the general path.
MAX_FAST_BODY_BYTES = 64 * 1024
MAX_CONSENTS = 50  # as LeadCaptureSerializer.consents
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+\Z")  # DRF's SlugField
# LeadFieldsSerializer's ChoiceText fields pass text untrimmed; its CharFields trim it.
_CHOICE_FIELDS = frozenset({"seniority", "timeframe", "source"})
_TEXT_FIELDS = frozenset(LEAD_FIELDS) - {"company_size"}
_RENDERER = JSONRenderer()
_AUTHENTICATION = RoleTokenAuthentication()
ADD_LEAD = "leads.add_lead"


def answer(request: HttpRequest, *, allow: str) -> HttpResponse | None:
    """The response to a plain, valid token capture; None for anything else."""
    key = _token(request)
    if key is None or not _plain_json_post(request):
        return None
    body = _json_object(request.body)
    if body is None:
        return None
    shaped = _shaped(body)
    if shaped is None:
        return None
    data, consents = shaped
    try:
        user, _token_row = _AUTHENTICATION.authenticate_credentials(key)
    except exceptions.AuthenticationFailed:
        return None
    if not holds_any(user, [ADD_LEAD]):
        return None
    try:
        result = capture_lead(data=data, consents=consents, context=capture_context(request, user))
    except CaptureRejected:
        return None  # nothing was written; the general path words the refusal
    response = HttpResponse(
        _RENDERER.render(LeadSerializer(result.lead).data),
        status=201 if result.created else 200,
        content_type="application/json",
    )
    # The headers DRF's APIView adds.
    response["Allow"] = allow
    response["Vary"] = "Accept"
    return response


def capture_context(request: HttpRequest, user) -> CaptureContext:
    """Where an API capture came from: becomes its event and consent evidence."""
    return CaptureContext(
        channel=Source.API,
        consent_method=ConsentMethod.API,
        consent_source=request.path,
        ip_address=_ip_address(request),
        user_agent=request.headers.get("User-Agent", "")[:500],
        actor=user,
    )


def _ip_address(request: HttpRequest) -> str | None:
    # Consent evidence stores it as an inet: a unix-socket peer ("") must become NULL.
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def _token(request: HttpRequest) -> str | None:
    parts = request.headers.get("Authorization", "").split()
    if len(parts) != 2 or parts[0] != "Token" or IDEMPOTENCY_HEADER in request.headers:
        return None
    return parts[1]


def _plain_json_post(request: HttpRequest) -> bool:
    content_type = request.headers.get("Content-Type", "").replace(" ", "").lower()
    if content_type not in ("application/json", "application/json;charset=utf-8"):
        return False
    try:
        length = int(request.headers.get("Content-Length", ""))
    except ValueError:
        return False
    return 0 < length <= MAX_FAST_BODY_BYTES


def _json_object(raw: bytes) -> dict | None:
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _refuse(name: str):
    raise ValueError(name)


def _shaped(body: dict) -> tuple[dict, list[ConsentGiven]] | None:
    """The lead fields and consents, when every value has the plainest shape DRF accepts:
    text (or null) for text fields, a whole number (or null) for company_size, consents as
    {"purpose": slug, "granted": true/false}. DRF trims text; so does this."""
    data: dict = {}
    consents: list[ConsentGiven] = []
    for name, value in body.items():
        if name in _TEXT_FIELDS:
            if value is None:
                value = ""
            elif not isinstance(value, str) or "\x00" in value:
                return None
            data[name] = value if name in _CHOICE_FIELDS else value.strip()
        elif name == "company_size":
            if value is not None and (type(value) is not int):
                return None
            data[name] = "" if value is None else value
        elif name == "consents":
            consents = _consents(value)
            if consents is None:
                return None
        else:
            return None  # unknown or protected: the general path names it
    if not data.get("email"):
        return None
    return data, consents


def _consents(value) -> list[ConsentGiven] | None:
    if not isinstance(value, list) or len(value) > MAX_CONSENTS:
        return None
    consents = []
    for choice in value:
        if not isinstance(choice, dict) or choice.keys() != {"purpose", "granted"}:
            return None
        purpose, granted = choice["purpose"], choice["granted"]
        if not isinstance(purpose, str) or len(purpose) > 50 or not _SLUG.match(purpose):
            return None
        if not isinstance(granted, bool):
            return None
        consents.append(ConsentGiven(purpose, granted))
    return consents
