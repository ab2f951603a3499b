"""The qualification API: a lead's score explained, and moving a lead to another stage.

Each view validates with an input serializer, calls one service and renders the result.
"""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ErrorsSerializer, error_responses
from api.views import ApiView
from leads.api.serializers import StrictInputMixin
from leads.models import Lead, Stage
from scoring.models import StageTransition
from scoring.services import (
    BANT_MAX_LENGTH,
    TransitionConflict,
    TransitionForbidden,
    TransitionIncomplete,
    TransitionRefused,
    explanation,
    transition,
)

TAG = ["qualification"]


# --- The score ---------------------------------------------------------------------------------


class CriterionLineSerializer(serializers.Serializer):
    criterion = serializers.CharField(help_text=_("The criterion's name."))
    kind = serializers.CharField(help_text=_("lead_definition, fit or engagement."))
    met = serializers.BooleanField()
    points = serializers.IntegerField(
        help_text=_(
            "The points it gave, negative for a negative criterion; 0 for a lead-"
            "definition rule, which is met or not."
        )
    )


class ScoreSerializer(serializers.Serializer):
    scored = serializers.BooleanField(
        help_text=_(
            "False when the lead was never scored: then version is null and criteria is empty."
        )
    )
    version = serializers.IntegerField(
        allow_null=True, help_text=_("The criteria version the score was computed with.")
    )
    score = serializers.IntegerField()
    fit = serializers.IntegerField()
    engagement = serializers.IntegerField()
    buying_stage = serializers.CharField(
        allow_blank=True, help_text=_("awareness, consideration, purchase, or empty.")
    )
    scored_at = serializers.DateTimeField(allow_null=True)
    behaviour_not_scored = serializers.BooleanField(
        help_text=_(
            "True when the lead's behaviour (events) is left out of the score because the "
            "person has not consented to profiling."
        )
    )
    criteria = CriterionLineSerializer(
        many=True, help_text=_("Every criterion of the version, in order.")
    )


def score_of(lead: Lead) -> dict:
    """The explanation as the API shows it, also for a lead never scored."""
    explained = explanation(lead)
    if explained is None:
        return {
            "scored": False,
            "version": None,
            "score": lead.score,
            "fit": lead.fit_score,
            "engagement": lead.engagement_score,
            "buying_stage": lead.buying_stage,
            "scored_at": None,
            "behaviour_not_scored": False,
            "criteria": [],
        }
    lines = explained.pop("lines")
    return {"scored": True, **explained, "criteria": lines}


class LeadScoreView(ApiView):
    required_permissions = {"GET": "leads.view_lead"}

    @extend_schema(
        operation_id="leads_score",
        tags=TAG,
        summary=_("Explain a lead's score"),
        description=_(
            "The stored score with its fit and engagement subtotals, the criteria version it "
            "was computed with, the inferred buying stage and the points of each criterion. A "
            'lead never scored answers with "scored": false, "version": null and no criteria.'
        ),
        responses={200: ScoreSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        return Response(ScoreSerializer(score_of(lead)).data)


# --- Transitions -------------------------------------------------------------------------------


# The lead's own `stage` field names the stages' enum StageEnum; every field holding a stage
# points at it, instead of drf-spectacular naming the same choices once per field name.
@extend_schema_field({"$ref": "#/components/schemas/StageEnum"})
class StageField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Stage.choices, **kwargs)


class BantSerializer(StrictInputMixin, serializers.Serializer):
    budget = serializers.CharField(max_length=BANT_MAX_LENGTH)
    authority = serializers.CharField(max_length=BANT_MAX_LENGTH)
    need = serializers.CharField(max_length=BANT_MAX_LENGTH)
    timeline = serializers.CharField(max_length=BANT_MAX_LENGTH)


class OfferSerializer(StrictInputMixin, serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=True
    )
    expected_close_date = serializers.DateField(help_text=_("Today or later."))


class TransitionInputSerializer(StrictInputMixin, serializers.Serializer):
    to_stage = StageField()
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text=_("Required for won, lost, nurture and disqualified."),
    )
    expected_stage = StageField(
        required=False,
        help_text=_(
            "The stage you saw the lead in. When someone moved it meanwhile, the move is "
            "refused with 409 and nothing changes."
        ),
    )
    bant = BantSerializer(
        required=False, help_text=_("Required to accept a lead as sales qualified (sql).")
    )
    offer = OfferSerializer(required=False, help_text=_("Required for an opportunity."))


class TransitionSerializer(serializers.ModelSerializer):
    from_stage = StageField()
    to_stage = StageField()
    actor = serializers.IntegerField(
        source="actor_id", allow_null=True, help_text=_("The user; null for the scoring rules.")
    )
    criteria_version = serializers.IntegerField(
        source="criteria_version.number",
        allow_null=True,
        help_text=_("The number of the criteria version in force."),
    )
    details = serializers.JSONField(help_text=_('{"bant": {...}} or {"offer": {...}}, or {}.'))

    class Meta:
        model = StageTransition
        fields = [
            "id", "lead", "from_stage", "to_stage", "actor", "reason", "score",
            "criteria_version", "details", "occurred_at",
        ]  # fmt: skip
        read_only_fields = fields


class TransitionConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Someone moved this lead meanwhile; nothing was changed.")
    default_code = "conflict"


class LeadTransitionView(ApiView):
    required_permissions = {"POST": "leads.change_lead"}

    @extend_schema(
        operation_id="leads_transition",
        tags=TAG,
        summary=_("Move a lead to another stage"),
        description=_(
            "Checks the stage policy and your role: marketing moves leads between contact, "
            "lead and MQL; sales accepts an MQL as SQL with BANT, makes it an opportunity with "
            "an offer and closes it as won or lost with a reason; either team parks a lead in "
            "nurture or disqualified with a reason, and the team owning the stage it goes back "
            "to takes it out. Send expected_stage so that two people moving the same lead at "
            "once do not overwrite each other: the second one gets 409."
        ),
        request=TransitionInputSerializer,
        responses={
            200: TransitionSerializer,
            **error_responses(400, 401, 403, 404, 413, 415),
            409: OpenApiResponse(
                ErrorsSerializer,
                description=_("Someone moved the lead meanwhile; nothing was changed."),
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        payload = TransitionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            record = transition(
                lead_id=lead.pk,
                to_stage=data["to_stage"],
                actor=request.user,
                reason=data.get("reason", ""),
                expected_stage=data.get("expected_stage"),
                details={key: dict(data[key]) for key in ("bant", "offer") if key in data},
            )
        except TransitionConflict as conflict:
            raise TransitionConflictError(str(conflict)) from conflict
        except TransitionForbidden as forbidden:
            raise PermissionDenied(str(forbidden)) from forbidden
        except TransitionIncomplete as incomplete:
            raise ValidationError({incomplete.field: [str(incomplete)]}) from incomplete
        except TransitionRefused as refused:
            raise ValidationError({"detail": [str(refused)]}) from refused
        return Response(TransitionSerializer(record).data)
