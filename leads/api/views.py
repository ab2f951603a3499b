"""The leads API: capture and list leads, read and correct one, record events.

Each method validates with an input serializer, calls one service and renders the result.
"""

from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import idempotent
from api.pagination import KeysetCursorPagination
from api.schema import IDEMPOTENCY_KEY, BatchErrorsSerializer, error_responses, one_or_batch
from api.views import ApiView
from leads.api import fast_capture
from leads.api.fast_capture import capture_context
from leads.api.filters import filter_leads
from leads.api.serializers import (
    EMAIL_TAKEN,
    EventInputSerializer,
    EventSerializer,
    LeadCaptureSerializer,
    LeadListQuerySerializer,
    LeadPageSerializer,
    LeadProfileSerializer,
    LeadSerializer,
    validate_events,
)
from leads.models import Lead
from leads.services.capture import CaptureRejected, capture_lead
from leads.services.events import LeadsGone, record_events
from leads.services.profile import LeadMerged, update_lead_profile

TAG = ["leads"]


class LeadsView(ApiView):
    required_permissions = {"GET": "leads.view_lead", "POST": "leads.add_lead"}
    keyset_orderings = ("-score", "-created_at")

    def dispatch(self, request, *args, **kwargs):
        # A plain token capture is answered directly (see fast_capture); all else by DRF.
        if request.method == "POST":
            answer = fast_capture.answer(request, allow=", ".join(self.allowed_methods))
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="leads_list",
        tags=TAG,
        summary=_("List leads"),
        description=_(
            "Active leads (not merged ones), filtered, highest score first or newest first, "
            "a page at a time. Follow the `next` link for the next page; there is no total."
        ),
        parameters=[LeadListQuerySerializer],
        responses={200: LeadPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = LeadListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        paginator = KeysetCursorPagination()
        page = paginator.paginate(
            filter_leads(Lead.objects.active(), params),
            request,
            ordering=params["ordering"],
            cursor=params.get("cursor"),
            page_size=params.get("page_size"),
            split_by=("stage", sorted(params["stage"])) if params.get("stage") else None,
        )
        return paginator.get_paginated_response(LeadSerializer(page, many=True).data)

    @extend_schema(
        operation_id="leads_capture",
        tags=TAG,
        summary=_("Capture a lead"),
        description=_(
            "Creates the lead, or updates the one with this e-mail address: a value given "
            "replaces the stored one, a blank never erases, and where the lead first came "
            "from (source, campaign, UTM) stays. Records the consents and a capture event. "
            "Fields nobody may set (stage, score, owner, ...) and unknown fields are refused."
        ),
        request=LeadCaptureSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(LeadSerializer, description=_("A new lead.")),
            200: OpenApiResponse(LeadSerializer, description=_("The known lead, updated.")),
            **error_responses(400, 401, 403, 413, 415, 422),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = LeadCaptureSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, consents = payload.capture_arguments()
        try:
            result = capture_lead(
                data=data, consents=consents, context=capture_context(request, request.user)
            )
        except CaptureRejected as rejected:
            raise ValidationError(rejected.errors) from rejected
        return Response(
            LeadSerializer(result.lead).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class LeadView(ApiView):
    required_permissions = {"GET": "leads.view_lead", "PATCH": "leads.change_lead"}

    @extend_schema(
        operation_id="leads_retrieve",
        tags=TAG,
        summary=_("Show a lead"),
        description=_("A merged lead is shown too; `merged_into` names the lead it became."),
        responses={200: LeadSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(LeadSerializer(get_object_or_404(Lead, pk=pk)).data)

    @extend_schema(
        operation_id="leads_update_profile",
        tags=TAG,
        summary=_("Correct a lead's profile"),
        description=_(
            "Changes the profile fields given, validated and normalised as at capture. "
            "Source, campaign and UTM fields, stage, scores, owner and consent are refused."
        ),
        request=LeadProfileSerializer,
        responses={200: LeadSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        payload = LeadProfileSerializer(data=request.data, context={"lead": lead})
        payload.is_valid(raise_exception=True)
        try:
            lead = update_lead_profile(
                lead=lead, actor=request.user, changes=payload.validated_data
            )
        except LeadMerged as merged:
            raise ValidationError(
                {
                    "detail": [
                        _("This lead was merged into lead %(id)s.") % {"id": merged.survivor_id}
                    ]
                }
            ) from merged
        except IntegrityError as error:
            # Another lead took the address between our check and the save.
            raise ValidationError({"email": [EMAIL_TAKEN]}) from error
        return Response(LeadSerializer(lead).data)


_EVENT_OR_BATCH = one_or_batch("EventOrBatch", EventInputSerializer)
_RECORDED_EVENT_OR_BATCH = one_or_batch("RecordedEventOrBatch", EventSerializer)


class EventsView(ApiView):
    required_permissions = {"POST": "leads.add_event"}

    @extend_schema(
        operation_id="events_record",
        tags=TAG,
        summary=_("Record events"),
        description=_(
            "One event (a JSON object) or a batch (a JSON list of up to 500), each for a lead "
            "named by id or e-mail address. All or nothing: when one event is invalid none is "
            "saved, and the errors are given per item index. Each lead touched is scored again."
        ),
        request=_EVENT_OR_BATCH,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(
                _RECORDED_EVENT_OR_BATCH,
                description=_("The recorded event, or the list of them for a batch."),
            ),
            **error_responses(400, serializer=BatchErrorsSerializer),
            **error_responses(401, 403, 413, 415, 422),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        events = validate_events(request.data)
        try:
            recorded = record_events(events=events, actor=request.user)
        except LeadsGone as gone:
            raise ValidationError(_lead_gone_errors(request.data, events, gone)) from gone
        data = EventSerializer(recorded, many=True).data
        return Response(
            data if isinstance(request.data, list) else data[0], status=status.HTTP_201_CREATED
        )


def _lead_gone_errors(payload, events, gone: LeadsGone) -> dict:
    message = [_("This lead was merged or deleted meanwhile.")]
    field_errors = {
        index: {"lead": message}
        for index, event in enumerate(events)
        if event.lead_id in gone.lead_ids
    }
    if isinstance(payload, list):
        return {str(index): errors for index, errors in field_errors.items()}
    return field_errors[0]
