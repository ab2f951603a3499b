"""Every API error in one shape: {"errors": {field: [messages]}}.

Errors about one input field are keyed by its name (`email`, `Idempotency-Key`, and for a
batch the item's index, holding that item's field errors). Errors about the request as a
whole (credentials, permission, method, body) are keyed by "detail".
"""

from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

REQUEST_ERRORS_KEY = "detail"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "too_large"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler (status codes, headers such as WWW-Authenticate), then our shape."""
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit, met when something read `request.body` before our parser.
        exc = RequestTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        # Not an API error but a bug: Django answers 500 and logs it.
        return None
    if isinstance(exc, ValidationError):
        response.data = {"errors": field_errors(exc.detail)}
    else:
        response.data = {"errors": {REQUEST_ERRORS_KEY: _messages(response.data)}}
    return response


def field_errors(detail) -> dict:
    """A validation error's detail as a dict: by field, or by index for a list of items."""
    if isinstance(detail, dict):
        return {str(key): _nested(value) for key, value in detail.items()}
    if isinstance(detail, list) and detail and all(isinstance(item, dict) for item in detail):
        return {str(index): _nested(item) for index, item in enumerate(detail) if item}
    return {api_settings.NON_FIELD_ERRORS_KEY: _messages(detail)}


def _nested(value):
    if isinstance(value, dict):
        return field_errors(value)
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        # A nested list serializer: its items' errors by index.
        return field_errors(value)
    return _messages(value)


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        value = value.get("detail", list(value.values()))
    if not isinstance(value, list):
        value = [value]
    return [str(message) for message in value]
