"""Pieces of the OpenAPI description every endpoint shares: error bodies and headers."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from api.idempotency import HEADER


class ErrorsSerializer(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_(
            'Messages per input field, or under "detail" for the request as a whole, such as '
            "missing credentials."
        ),
    )


class BatchErrorsSerializer(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.JSONField(),
        help_text=_(
            'For one item: messages per field. For a batch: per item index ("0", "3"), '
            "that item's messages per field; a batch that is too long or empty has them "
            'under "non_field_errors".'
        ),
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=_(
        "A key of your choice (1 to 255 visible ASCII characters, such as a UUID) that makes "
        "a retry safe: the same key with the same body within 24 hours returns the first "
        "successful answer, status and body, without doing the work again, and with the "
        "header Idempotent-Replayed: true. The same key with another body is refused with "
        "422. While a request with the key is being answered, another one with it waits for "
        "that answer. Answers that are errors are not remembered."
    ),
)

_DESCRIPTIONS = {
    400: _("The input is not valid; nothing was saved."),
    401: _("No credentials, or wrong ones. Send a token: `Authorization: Token <key>`."),
    403: _("Your role does not allow this."),
    404: _("There is no such lead."),
    413: _("The request body is too large."),
    415: _("Send JSON, with Content-Type: application/json."),
    422: _("The Idempotency-Key was used before with a different request."),
}


def error_responses(*codes: int, serializer=ErrorsSerializer) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for these error status codes, all in the {"errors": ...} shape."""
    return {
        code: OpenApiResponse(response=serializer, description=_DESCRIPTIONS[code])
        for code in codes
    }


def one_or_batch(component_name: str, serializer: type[serializers.Serializer]):
    """A body that is one object or a list of them (the batch endpoints), for the schema."""
    from drf_spectacular.utils import PolymorphicProxySerializer

    return PolymorphicProxySerializer(
        component_name=component_name,
        serializers=[serializer, serializer(many=True)],
        resource_type_field_name=None,
        many=False,
    )
