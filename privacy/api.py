"""The data-subject API: export everything held on a person, and erase a person.

Each view validates with an input serializer, calls one service and renders the result.
"""

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ErrorsSerializer, error_responses
from api.views import ApiView
from leads.api.serializers import StrictInputMixin
from leads.models import Lead
from privacy import services
from privacy.models import Channel, SubjectRequest

TAG = ["data subjects"]

NOT_FOUND = _("No lead has this e-mail address.")
ERASED = _("This person was erased at their request; nothing is held on them any more.")

_NOT_FOUND_RESPONSE = OpenApiResponse(
    response=ErrorsSerializer, description=_("No lead has this e-mail address.")
)
_GONE_RESPONSE = OpenApiResponse(
    response=ErrorsSerializer,
    description=_("The person was erased before: the address is on the suppression list."),
)


class SubjectInputSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField(
        max_length=254, help_text=_("The person's e-mail address, in any case.")
    )


class EraseInputSerializer(SubjectInputSerializer):
    reason = serializers.CharField(
        max_length=2000,
        help_text=_(
            "Why the person is erased, for the log (such as the ticket of their request). "
            "Their name, address and phone are removed from it."
        ),
    )


class ErasureSerializer(serializers.ModelSerializer):
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=_("Rows removed per kind of data, such as leads, events, consent_records."),
    )

    class Meta:
        model = SubjectRequest
        fields = ["id", "reference", "kind", "channel", "reason", "counts", "requested_at"]
        read_only_fields = fields


def _find(email: str) -> Lead | Response:
    try:
        return services.find_subject(email)
    except services.SubjectErased:
        return Response({"errors": {"email": [ERASED]}}, status=status.HTTP_410_GONE)
    except services.SubjectNotFound:
        return Response({"errors": {"email": [NOT_FOUND]}}, status=status.HTTP_404_NOT_FOUND)


class SubjectExportView(ApiView):
    required_permissions = {"POST": "privacy.export_subject"}

    @extend_schema(
        operation_id="subjects_export",
        tags=TAG,
        summary=_("Export everything held on a person"),
        description=_(
            "A zip with subject.json (profile, leads merged into it, events, notes, consents "
            "with the notice texts shown, confirmations, stage history, score explanation, "
            "owner changes), the same data as one CSV per table, and a README.txt. The "
            "export is logged with who asked and when."
        ),
        request=SubjectInputSerializer,
        responses={
            (200, "application/zip"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description=_("The zip file.")
            ),
            **error_responses(400, 401, 403, 413, 415),
            404: _NOT_FOUND_RESPONSE,
            410: _GONE_RESPONSE,
        },
    )
    def post(self, request: Request) -> HttpResponse:
        given = SubjectInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        found = _find(given.validated_data["email"])
        if isinstance(found, Response):
            return found
        content = services.export_subject(lead=found, actor=request.user, channel=Channel.API)
        response = HttpResponse(content, content_type="application/zip")
        name = services.export_file_name(found)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class SubjectEraseView(ApiView):
    required_permissions = {"POST": "privacy.erase_subject"}

    @extend_schema(
        operation_id="subjects_erase",
        tags=TAG,
        summary=_("Erase a person"),
        description=_(
            "Removes the person's lead, the leads merged into it, their events, notes, stage "
            "history, owner changes, consent records and confirmations, and their rows in "
            "import files and stored API answers, in one transaction. The address stays only "
            "as a salted hash on the suppression list. Answers with the log entry, which "
            "holds counts per kind of data and no personal data. Cannot be undone."
        ),
        request=EraseInputSerializer,
        responses={
            200: ErasureSerializer,
            **error_responses(400, 401, 403, 413, 415),
            404: _NOT_FOUND_RESPONSE,
            410: _GONE_RESPONSE,
        },
    )
    def post(self, request: Request) -> Response:
        given = EraseInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        found = _find(given.validated_data["email"])
        if isinstance(found, Response):
            return found
        log = services.erase_subject(
            lead=found,
            actor=request.user,
            reason=given.validated_data["reason"],
            channel=Channel.API,
        )
        return Response(ErasureSerializer(log).data)
