"""The consent API: recording grants and withdrawals that an integration collected.

`POST /api/v1/consents/` takes one choice or a batch; the input is validated here as a whole
and `consent.services.record_consents` writes it, all or nothing.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import idempotent
from api.schema import IDEMPOTENCY_KEY, BatchErrorsSerializer, error_responses, one_or_batch
from api.views import ApiView
from consent.models import ConsentMethod, NoticeVersion, Purpose
from consent.services import (
    ConsentGiven,
    ConsentStatus,
    UnknownPurpose,
    consent_state,
    record_consents,
)
from leads.api.fast_capture import capture_context
from leads.api.serializers import MAX_BATCH, StrictInputMixin
from leads.models import Lead
from leads.normalise import normalise_email
from privacy.models import SuppressedAddress, address_hash

TAG = ["consent"]

ERASED_WITHDRAWAL = _(
    "This person's data was erased on their request: Leadladder holds nothing on them any "
    "more, so there is no consent to withdraw, and the address stays blocked."
)
ERASED_GRANT = _(
    "This person's data was erased on their request. To record a new consent, capture them "
    "again with it (POST /api/v1/leads/ with consents)."
)


class ConsentInputSerializer(StrictInputMixin, serializers.Serializer):
    """One choice of one person about one purpose."""

    lead = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text=_("The lead's id.")
    )
    email = serializers.CharField(
        max_length=254, required=False, help_text=_("Or the lead's e-mail address.")
    )
    purpose = serializers.SlugField(max_length=50, help_text=_("The purpose's key."))
    granted = serializers.BooleanField(help_text=_("True for a grant, false for a withdrawal."))
    notice_version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text=_(
            "The version of the purpose's notice the person was shown. Left out: the current "
            "one. Only for a grant."
        ),
    )
    source = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text=_("Where the choice was made, such as a page URL or a campaign."),
    )
    evidence = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=_("Your reference to the proof, such as a submission id."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lead" in attrs) == ("email" in attrs):
            raise serializers.ValidationError(
                _("Name the lead by its id (lead) or its e-mail address (email), not both.")
            )
        if not attrs["granted"] and "notice_version" in attrs:
            raise serializers.ValidationError(
                {"notice_version": [_("A withdrawal needs no notice; leave this out.")]}
            )
        return attrs


class ConsentResultSerializer(serializers.Serializer):
    lead = serializers.IntegerField(help_text=_("The lead's id."))
    purpose = serializers.CharField(help_text=_("The purpose's key."))
    granted = serializers.BooleanField(help_text=_("What was asked: a grant or a withdrawal."))
    status = serializers.ChoiceField(
        choices=[
            ("granted", _("Granted")),
            ("withdrawn", _("Withdrawn")),
            ("pending", _("Pending: waiting for the person to confirm by e-mail")),
        ],
        help_text=_(
            "The person's consent for the purpose after this request. A grant of a purpose "
            "that requires double opt-in stays pending until the person confirms it."
        ),
    )


class LeadsNotFound(ValidationError):
    """A choice names no lead. A ValidationError, so its messages keep their place per item."""

    status_code = status.HTTP_404_NOT_FOUND


class SubjectErased(ValidationError):
    """A choice names an address erased on request (the suppression list)."""

    status_code = status.HTTP_410_GONE


@dataclass(frozen=True)
class ValidChoice:
    lead_id: int
    choice: ConsentGiven
    source: str
    evidence: str


def validate_consents(payload) -> list[ValidChoice]:
    """The choices in a request body: one object, or a list of up to MAX_BATCH.

    Raises, with messages per field for one choice or per index for a batch: ValidationError
    (400) when any choice is invalid; else SubjectErased (410) when any names an erased
    person; else LeadsNotFound (404) when any names no lead. A batch is all or nothing.
    """
    batch = isinstance(payload, list)
    if batch and not payload:
        raise ValidationError(_("Send at least one consent."))
    if batch and len(payload) > MAX_BATCH:
        raise ValidationError(_("Send at most %(max)s consents at once.") % {"max": MAX_BATCH})
    items = payload if batch else [payload]
    valid: dict[int, dict] = {}
    invalid: dict[int, Any] = {}
    for index, item in enumerate(items):
        serializer = ConsentInputSerializer(data=item)
        if serializer.is_valid():
            valid[index] = serializer.validated_data
        else:
            invalid[index] = serializer.errors
    notices = _check_purposes(valid, invalid)
    lead_ids, missing, gone = _resolve_leads(valid)

    def errors(*found: dict[int, Any]) -> dict:
        merged = {index: messages for failures in found for index, messages in failures.items()}
        if batch:
            return {str(index): messages for index, messages in sorted(merged.items())}
        return merged[0]

    if invalid:
        raise ValidationError(errors(invalid, gone, missing))
    if gone:
        raise SubjectErased(errors(gone, missing))
    if missing:
        raise LeadsNotFound(errors(missing))
    return [
        ValidChoice(
            lead_id=lead_ids[index],
            choice=ConsentGiven(
                purpose_key=attrs["purpose"],
                granted=attrs["granted"],
                notice_id=notices.get(index),
            ),
            source=attrs.get("source", ""),
            evidence=attrs.get("evidence", ""),
        )
        for index, attrs in valid.items()
    ]


def _check_purposes(valid: dict[int, dict], invalid: dict[int, Any]) -> dict[int, int]:
    """Move the choices whose purpose or notice version cannot be recorded from `valid` to
    `invalid`; return the id of the notice named by each choice that gives a version."""
    purposes = {
        purpose.key: purpose
        for purpose in Purpose.objects.filter(
            key__in={attrs["purpose"] for attrs in valid.values()}
        ).with_grantable()
    }
    named = {
        (notice.purpose.key, notice.version): notice.pk
        for notice in NoticeVersion.objects.filter(
            purpose__key__in={a["purpose"] for a in valid.values() if "notice_version" in a},
            version__in={a["notice_version"] for a in valid.values() if "notice_version" in a},
        ).select_related("purpose")
    }
    notices: dict[int, int] = {}
    for index, attrs in list(valid.items()):
        key = attrs["purpose"]
        purpose = purposes.get(key)
        problem = None
        if purpose is None:
            problem = {"purpose": [_("Unknown purpose: “%(key)s”.") % {"key": key}]}
        elif attrs["granted"] and not purpose.is_active:
            # Withdrawing stays possible after a purpose is switched off (GDPR art. 7(3)).
            problem = {
                "purpose": [
                    _("The purpose “%(key)s” is not active; consent cannot be granted for it.")
                    % {"key": key}
                ]
            }
        elif attrs["granted"] and not purpose.grantable:
            problem = {
                "purpose": [
                    _("The purpose “%(key)s” has no notice text yet; consent cannot be granted.")
                    % {"key": key}
                ]
            }
        elif "notice_version" in attrs:
            notice_id = named.get((key, attrs["notice_version"]))
            if notice_id is None:
                problem = {
                    "notice_version": [
                        _("The purpose “%(key)s” has no notice version %(version)s.")
                        % {"key": key, "version": attrs["notice_version"]}
                    ]
                }
            else:
                notices[index] = notice_id
        if problem:
            del valid[index]
            invalid[index] = problem
    return notices


def _resolve_leads(
    valid: dict[int, dict],
) -> tuple[dict[int, int], dict[int, Any], dict[int, Any]]:
    """The active lead of each valid choice, by index, in a few queries; and the choices
    naming no lead (404: unknown, or merged into another one, as the events API says) or an
    erased person (410: the address is on the suppression list), with their messages."""
    ids = {attrs["lead"] for attrs in valid.values() if "lead" in attrs}
    emails = {normalise_email(attrs["email"]) for attrs in valid.values() if "email" in attrs}
    by_id: dict[int, int] = {}
    merged: dict[int, int] = {}
    for pk, merged_into in Lead.objects.filter(pk__in=ids).values_list("pk", "merged_into"):
        if merged_into is None:
            by_id[pk] = pk
        else:
            merged[pk] = merged_into
    # An address of a merged-away lead reaches its survivor, as it does for capture.
    by_email: dict[str, int] = {}
    for email, reaches, merged_into in Lead.objects.reached_by(emails).values_list(
        "email", "reaches_id", "merged_into"
    ):
        if merged_into:
            by_email[email] = reaches
        else:
            by_email.setdefault(email, reaches)
    erased = _suppressed({address_hash(email): email for email in emails - set(by_email)})

    lead_ids: dict[int, int] = {}
    missing: dict[int, Any] = {}
    gone: dict[int, Any] = {}
    for index, attrs in valid.items():
        if "lead" in attrs:
            pk = attrs["lead"]
            if pk in by_id:
                lead_ids[index] = by_id[pk]
            elif pk in merged:
                missing[index] = {
                    "lead": [
                        _("Lead %(id)s was merged into lead %(survivor)s.")
                        % {"id": pk, "survivor": merged[pk]}
                    ]
                }
            else:
                missing[index] = {"lead": [_("No such lead.")]}
            continue
        email = normalise_email(attrs["email"])
        if email in by_email:
            lead_ids[index] = by_email[email]
        elif email in erased:
            gone[index] = {"email": [ERASED_GRANT if attrs["granted"] else ERASED_WITHDRAWAL]}
        else:
            missing[index] = {"email": [_("No lead has this e-mail address.")]}
    return lead_ids, missing, gone


def _suppressed(hashes: dict[str, str]) -> set[str]:
    """The addresses among `hashes` (hash -> address) on the suppression list."""
    if not hashes:
        return set()
    found = SuppressedAddress.objects.filter(address_hash__in=hashes).values_list(
        "address_hash", flat=True
    )
    return {hashes[digest] for digest in found}


def record_api_consents(
    *, choices: list[ValidChoice], source: str, ip_address: str | None, user_agent: str, actor
) -> None:
    """Record validated choices in their order, all in one transaction."""
    with transaction.atomic():
        group: list[ValidChoice] = []
        for choice in [*choices, None]:
            # One record_consents call per run of choices with the same lead and evidence.
            if group and (choice is None or _group_key(choice) != _group_key(group[0])):
                record_consents(
                    subject_id=group[0].lead_id,
                    given=[item.choice for item in group],
                    method=ConsentMethod.API,
                    source=group[0].source or source,
                    ip_address=ip_address,
                    user_agent=user_agent,
                    evidence=group[0].evidence,
                    recorded_by=actor,
                )
                group = []
            if choice is not None:
                group.append(choice)


def _group_key(choice: ValidChoice) -> tuple:
    return (choice.lead_id, choice.source, choice.evidence)


def status_after(choices: list[ValidChoice]) -> list[str]:
    """The status of each choice's lead and purpose after recording: granted, withdrawn, or
    pending (a grant waiting for the person's confirmation by e-mail)."""
    states: dict[int, dict] = {}
    statuses = []
    for item in choices:
        if item.lead_id not in states:
            states[item.lead_id] = consent_state(item.lead_id)
        state = states[item.lead_id].get(item.choice.purpose_key)
        status = str(state.status) if state is not None else ConsentStatus.NEVER
        if status == ConsentStatus.NEVER:
            # Nothing stands although the choice was taken: a grant waits for confirmation.
            status = ConsentStatus.PENDING if item.choice.granted else ConsentStatus.WITHDRAWN
        statuses.append(str(status))
    return statuses


_CONSENT_OR_BATCH = one_or_batch("ConsentOrBatch", ConsentInputSerializer)
_RESULT_OR_BATCH = one_or_batch("ConsentResultOrBatch", ConsentResultSerializer)


class ConsentsView(ApiView):
    required_permissions = {"POST": "consent.record_consent"}

    @extend_schema(
        operation_id="consents_record",
        tags=TAG,
        summary=_("Record consents and withdrawals"),
        description=_(
            "One choice (a JSON object) or a batch (a JSON list of up to 500), each for a lead "
            "named by id or e-mail address and a purpose named by its key. Recorded with "
            "method api, your IP address and user agent, as proof. All or nothing: when one "
            "choice fails none is saved, and the errors are given per item index. A grant "
            "needs an active purpose; a withdrawal is accepted for any purpose. A grant of a "
            "purpose that requires double opt-in is pending until the person confirms it by "
            "e-mail. Answers 400 when any choice is invalid, else 410 when any names a person "
            "whose data was erased on request, else 404 when any names no lead."
        ),
        request=_CONSENT_OR_BATCH,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OpenApiResponse(
                _RESULT_OR_BATCH,
                description=_("The status after recording, or the list of them for a batch."),
            ),
            **error_responses(400, 404, serializer=BatchErrorsSerializer),
            410: OpenApiResponse(
                BatchErrorsSerializer,
                description=_("The person's data was erased on request; nothing was recorded."),
            ),
            **error_responses(401, 403, 413, 415, 422),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        choices = validate_consents(request.data)
        context = capture_context(request, request.user)
        try:
            record_api_consents(
                choices=choices,
                source=context.consent_source,
                ip_address=context.ip_address,
                user_agent=context.user_agent,
                actor=request.user,
            )
        except UnknownPurpose as unknown:
            # A purpose was switched off between the check and the write; nothing was saved.
            raise ValidationError({"purpose": [str(unknown)]}) from unknown
        results = [
            {
                "lead": item.lead_id,
                "purpose": item.choice.purpose_key,
                "granted": item.choice.granted,
                "status": state,
            }
            for item, state in zip(choices, status_after(choices), strict=True)
        ]
        data = ConsentResultSerializer(results, many=True).data
        return Response(
            data if isinstance(request.data, list) else data[0], status=status.HTTP_201_CREATED
        )
