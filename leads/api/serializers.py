"""What the leads API accepts and returns. Input serializers check the shape of a request and
refuse fields nobody may set; the meaning of lead data is checked by `leads.validation`, the
one validation every channel shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from consent.services import ConsentGiven
from leads.models import Event, EventType, Lead, Seniority, Source, Stage, Timeframe
from leads.normalise import normalise_email
from leads.services.events import NewEvent
from leads.services.profile import EDITABLE_FIELDS
from leads.validation import LEAD_FIELDS, PROTECTED_FIELDS, LeadDataForm

CANNOT_BE_SET = _("This field cannot be set.")
UNKNOWN_FIELD = _("Unknown field.")
EMAIL_TAKEN = _("Another lead has this e-mail address; merge the two instead.")
MAX_BATCH = 500
# Properties describe an event (a page title, a campaign id); a few kilobytes is plenty, and
# a bound keeps a batch of 500 within the API's body limit.
MAX_PROPERTIES_CHARS = 8_000
# Clocks differ a little; an event further in the future than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
RECORDABLE_EVENT_TYPES = [choice for choice in EventType.choices if choice[0] != EventType.CAPTURE]
ORDERINGS = [
    ("-score", _("Score, highest first")),
    ("-created_at", _("Created, newest first")),
]


class StrictInputMixin:
    """Refuses every key the serializer does not declare, naming it: a protected field ("This
    field cannot be set.") or an unknown one. Nothing is ever silently ignored."""

    protected_fields: frozenset[str] | set[str] = frozenset()
    unknown_message = UNKNOWN_FIELD

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [_("Send a JSON object.")]}
            )
        refused = {
            str(key): [CANNOT_BE_SET if key in self.protected_fields else self.unknown_message]
            for key in data
            if key not in self.fields
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**error.detail, **refused}) from error
        if refused:
            raise serializers.ValidationError(refused)
        return value


def _text(help_text=None) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text=help_text
    )


class ChoiceText(serializers.ChoiceField):
    """Documented with its choices, but any text passes here: `leads.validation` judges it,
    so a wrong choice is reported together with the other fields' errors."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return data


def _choice(choices) -> serializers.ChoiceField:
    return ChoiceText(choices=choices, required=False, allow_blank=True, allow_null=True)


class LeadFieldsSerializer(StrictInputMixin, serializers.Serializer):
    """The lead fields every channel uses. Values are checked here for their JSON type only;
    lengths, choices and formats by `leads.validation`, which also normalises them."""

    protected_fields = PROTECTED_FIELDS

    email = serializers.CharField(help_text=_("Stored lower-case; one lead per address."))
    first_name = _text()
    last_name = _text()
    phone = _text(_("Any common notation; stored as E.164 (+31612345678)."))
    company = _text()
    job_title = _text()
    seniority = _choice(Seniority.choices)
    company_size = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("Employees.")
    )
    industry = _text()
    country = _text(_("An ISO code such as NL, or a name such as Belgium."))
    budget = _text(_("An amount: 25000, 25.000,00 or 25,000.00; a JSON number too."))
    need = _text()
    timeframe = _choice(Timeframe.choices)
    source = _choice(Source.choices)
    campaign = _text()
    utm_source = _text()
    utm_medium = _text()
    utm_campaign = _text()


class ConsentChoiceSerializer(StrictInputMixin, serializers.Serializer):
    purpose = serializers.SlugField(max_length=50, help_text=_("The purpose's key."))
    granted = serializers.BooleanField(help_text=_("True for a grant, false for a withdrawal."))


class LeadCaptureSerializer(LeadFieldsSerializer):
    """A lead to create, or to update when its e-mail address is known."""

    consents = serializers.ListField(
        child=ConsentChoiceSerializer(),
        required=False,
        max_length=50,
        help_text=_("Consent choices the person made, recorded with the lead."),
    )

    def capture_arguments(self) -> tuple[dict[str, Any], list[ConsentGiven]]:
        """The `data` and `consents` to pass to `capture_lead`."""
        data = {
            name: "" if value is None else value
            for name, value in self.validated_data.items()
            if name in LEAD_FIELDS
        }
        consents = [
            ConsentGiven(choice["purpose"], choice["granted"])
            for choice in self.validated_data.get("consents", [])
        ]
        return data, consents


def _form_value(value) -> str:
    return "" if value is None else str(value)


class LeadProfileSerializer(LeadFieldsSerializer):
    """Corrections to a lead's profile (`context["lead"]`). Where the lead came from (source,
    campaign, UTM) is history, and stage, scores, owner and consent have their own services:
    none of them can be set here."""

    protected_fields = PROTECTED_FIELDS | (set(LEAD_FIELDS) - set(EDITABLE_FIELDS)) | {"consents"}

    email = serializers.CharField(required=False, allow_blank=True)

    def get_fields(self):
        fields = super().get_fields()
        return {name: field for name, field in fields.items() if name in EDITABLE_FIELDS}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Validate the changed fields as a capture would, reading untouched ones from the
        lead (a phone number is read in the lead's country); return the cleaned changes."""
        lead: Lead = self.context["lead"]
        if lead.merged_into_id:
            raise serializers.ValidationError(
                _("This lead was merged into lead %(id)s; change that one.")
                % {"id": lead.merged_into_id}
            )
        given = {name: "" if value is None else value for name, value in attrs.items()}
        current = {name: _form_value(getattr(lead, name)) for name in LEAD_FIELDS}
        form = LeadDataForm({**current, **given})
        form.is_valid()
        errors = {
            name: [str(message) for message in messages]
            for name, messages in form.errors.items()
            if name in given
        }
        if errors:
            raise serializers.ValidationError(errors)
        changes = {name: form.cleaned_data[name] for name in given}
        email = changes.get("email")
        if email and Lead.objects.holding_address(email, besides=lead).exists():
            raise serializers.ValidationError({"email": [EMAIL_TAKEN]})
        return changes


class LeadSerializer(serializers.ModelSerializer):
    """A lead as the API shows it."""

    country = serializers.CharField(source="country.code", read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id", *LEAD_FIELDS, "is_decision_maker", "owner", "stage", "score", "fit_score",
            "engagement_score", "merged_into", "created_at", "updated_at", "last_activity_at",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, lead: Lead) -> dict:
        # The same output as the declared fields, without building twenty-odd field objects
        # for every lead: on the capture path that cost more than the database work.
        data = {"id": lead.pk}
        for name in LEAD_FIELDS:
            data[name] = getattr(lead, name)
        data["country"] = lead.country.code if lead.country else ""
        data["budget"] = _MONEY.to_representation(lead.budget) if lead.budget is not None else None
        data.update(
            is_decision_maker=lead.is_decision_maker,
            owner=lead.owner_id,
            stage=lead.stage,
            score=lead.score,
            fit_score=lead.fit_score,
            engagement_score=lead.engagement_score,
            merged_into=lead.merged_into_id,
        )
        for name in ("created_at", "updated_at", "last_activity_at"):
            moment = getattr(lead, name)
            data[name] = _MOMENT.to_representation(moment) if moment is not None else None
        return data


_MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)
_MOMENT = serializers.DateTimeField()


class LeadPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text=_("The next page, or null."))
    previous = serializers.URLField(allow_null=True, help_text=_("The previous page, or null."))
    results = LeadSerializer(many=True)


class MomentField(serializers.DateTimeField):
    """An ISO 8601 date-time, or a date: its first moment in Leadladder's time zone."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                day = parse_date(value.strip())
            except ValueError:
                day = None
            if day is not None:
                return timezone.make_aware(datetime.combine(day, time.min))
        return super().to_internal_value(value)


class LeadListQuerySerializer(StrictInputMixin, serializers.Serializer):
    """The query string of the lead list: filters, ordering and page."""

    unknown_message = _("Unknown parameter.")

    stage = serializers.MultipleChoiceField(
        choices=Stage.choices, required=False, help_text=_("Repeat for several stages.")
    )
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    campaign = serializers.CharField(max_length=200, required=False)
    owner = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text=_("The owner's user id.")
    )
    score_min = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1, required=False)
    score_max = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1, required=False)
    created_after = MomentField(
        required=False, help_text=_("Created at or after; a date means its start.")
    )
    created_before = MomentField(
        required=False, help_text=_("Created before; a date means its start.")
    )
    email = serializers.CharField(max_length=254, required=False, help_text=_("Exact address."))
    q = serializers.CharField(
        max_length=254, required=False, help_text=_("The start of the e-mail address.")
    )
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default="-score")
    cursor = serializers.CharField(
        max_length=1000,
        required=False,
        help_text=_("The page to show: the cursor from a `next` or `previous` link."),
    )
    page_size = serializers.IntegerField(min_value=1, max_value=200, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("score_min", -(2**31)) > attrs.get("score_max", 2**31 - 1):
            raise serializers.ValidationError(
                {"score_max": [_("The maximum score is below the minimum.")]}
            )
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"created_before": [_("This is not after created_after.")]}
            )
        return attrs


class EventInputSerializer(StrictInputMixin, serializers.Serializer):
    """One event for a lead named by its id (`lead`) or by its e-mail address (`email`)."""

    protected_fields = frozenset({"id", "created_at"})

    lead = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text=_("The lead's id.")
    )
    email = serializers.CharField(
        max_length=254, required=False, help_text=_("Or the lead's e-mail address.")
    )
    type = serializers.ChoiceField(
        choices=RECORDABLE_EVENT_TYPES,
        error_messages={"invalid_choice": _("Unknown event type: “{input}”.")},
    )
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(
        required=False, help_text=_("When it happened; now when left out.")
    )
    properties = serializers.JSONField(
        required=False, help_text=_("A JSON object describing the event.")
    )

    def validate_occurred_at(self, value: datetime) -> datetime:
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(_("This moment is in the future."))
        return value

    def validate_properties(self, value) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Give the properties as a JSON object."))
        if len(json.dumps(value, ensure_ascii=False)) > MAX_PROPERTIES_CHARS:
            raise serializers.ValidationError(
                _("The properties are too long: at most %(max)s characters of JSON.")
                % {"max": MAX_PROPERTIES_CHARS}
            )
        if _contains_nul(value):
            # PostgreSQL cannot store U+0000 in JSON.
            raise serializers.ValidationError(_("The properties contain a NUL character."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lead" in attrs) == ("email" in attrs):
            raise serializers.ValidationError(
                _("Name the lead by its id (lead) or its e-mail address (email), not both.")
            )
        return attrs


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


class EventSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(choices=RECORDABLE_EVENT_TYPES, read_only=True)
    properties = serializers.DictField(read_only=True)

    class Meta:
        model = Event
        fields = ["id", "lead", "type", "url", "occurred_at", "properties", "created_at"]
        read_only_fields = fields


def validate_events(payload) -> list[NewEvent]:
    """The events in a request body: one object, or a list of up to MAX_BATCH.

    Raises ValidationError, with messages per field for one event or per index for a
    batch, when any event is invalid or names no active lead: a batch is all or nothing.
    """
    batch = isinstance(payload, list)
    if batch and not payload:
        raise serializers.ValidationError(_("Send at least one event."))
    if batch and len(payload) > MAX_BATCH:
        raise serializers.ValidationError(
            _("Send at most %(max)s events at once.") % {"max": MAX_BATCH}
        )
    items = payload if batch else [payload]
    valid: dict[int, dict] = {}
    errors: dict[int, Any] = {}
    for index, item in enumerate(items):
        serializer = EventInputSerializer(data=item)
        if serializer.is_valid():
            valid[index] = serializer.validated_data
        else:
            errors[index] = serializer.errors
    lead_ids, unknown = _resolve_leads(valid.values())
    for index, attrs in valid.items():
        if attrs.get("lead") is not None:
            name, key = "lead", attrs["lead"]
        else:
            name, key = "email", normalise_email(attrs["email"])
        if key in unknown:
            errors[index] = {name: [unknown[key]]}
    if errors:
        raise serializers.ValidationError(
            {str(index): messages for index, messages in sorted(errors.items())}
            if batch
            else errors[0]
        )
    now = timezone.now()
    return [
        NewEvent(
            lead_id=lead_ids[attrs["lead"] if "lead" in attrs else normalise_email(attrs["email"])],
            type=attrs["type"],
            occurred_at=attrs.get("occurred_at") or now,
            url=attrs.get("url", ""),
            properties=attrs.get("properties") or {},
        )
        for attrs in valid.values()
    ]


def _resolve_leads(items) -> tuple[dict[int | str, int], dict[int | str, str]]:
    """Map each lead id and e-mail address the events name to an active lead's id, in two
    queries; also return why each one that does not resolve fails."""
    ids = {attrs["lead"] for attrs in items if "lead" in attrs}
    emails = {normalise_email(attrs["email"]) for attrs in items if "email" in attrs}
    resolved: dict[int | str, int] = {}
    unknown: dict[int | str, str] = {}
    for pk, merged_into in Lead.objects.filter(pk__in=ids).values_list("pk", "merged_into"):
        if merged_into is None:
            resolved[pk] = pk
        else:
            unknown[pk] = _("Lead %(id)s was merged into lead %(survivor)s.") % {
                "id": pk,
                "survivor": merged_into,
            }
    # An address of a merged-away lead belongs to its survivor now, as it does for capture.
    for email, reaches, merged in Lead.objects.reached_by(emails).values_list(
        "email", "reaches_id", "merged_into"
    ):
        if merged:
            resolved[email] = reaches
        else:
            resolved.setdefault(email, reaches)
    for key in (ids | emails) - set(resolved) - set(unknown):
        unknown[key] = (
            _("No lead has this e-mail address.") if isinstance(key, str) else _("No such lead.")
        )
    return resolved, unknown
