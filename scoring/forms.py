"""The admin's forms for a draft criteria version: its stage policy, its criteria and its
stage definitions."""

import re
from decimal import Decimal, InvalidOperation

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from leads.models import EventType, Lead, Stage
from scoring.engine import RULE_FIELDS
from scoring.models import CriteriaVersion, Criterion, CriterionKind, Operator, Team

NUMBER_OPERATORS = {Operator.AT_LEAST, Operator.AT_MOST}
DOMAIN_OPERATORS = {Operator.EMAIL_DOMAIN_IN, Operator.EMAIL_DOMAIN_NOT_IN}
# Who owns a stage unless the admin says otherwise: marketing up to MQL and for nurture,
# sales from SQL on.
MARKETING_STAGES = {Stage.CONTACT, Stage.LEAD, Stage.MQL, Stage.NURTURE}


def field_label(name: str) -> str:
    return capfirst(Lead._meta.get_field(name).verbose_name)


def rule_field_choices() -> list[tuple[str, str]]:
    return [("", "---------"), *((name, field_label(name)) for name in RULE_FIELDS)]


def event_type_choices() -> list[tuple[str, str]]:
    # A capture is how a lead came in, not something it did: no rule counts it.
    return [
        ("", _("Any event")),
        *((value, label) for value, label in EventType.choices if value != EventType.CAPTURE),
    ]


def _helper(*layout) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(*layout)
    return helper


class PolicyForm(forms.ModelForm):
    """When a lead becomes an MQL, and what changed in this version."""

    class Meta:
        model = CriteriaVersion
        fields = ["mql_threshold", "mql_criteria_needed", "downgrade_on_decay", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            Row(Column("mql_threshold"), Column("mql_criteria_needed")),
            "downgrade_on_decay",
            "note",
        )


class CriterionForm(forms.ModelForm):
    """One rule; which fields it needs depends on its kind."""

    field = forms.ChoiceField(label=_("Field"), choices=rule_field_choices, required=False)
    event_type = forms.ChoiceField(
        label=_("Event type"), choices=event_type_choices, required=False
    )

    class Meta:
        model = Criterion
        fields = [
            "position", "kind", "name", "points", "field", "operator", "value", "event_type",
            "url_contains", "min_count", "window_days", "per_occurrence", "cap",
            "half_life_days", "buying_signal", "must_have", "counts_towards_mql",
        ]  # fmt: skip
        widgets = {"value": forms.Textarea(attrs={"rows": 1})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            Row(Column("kind"), Column("name", css_class="col-md-5"), Column("points")),
            Fieldset(
                _("On the lead's data (fit and lead definition)"),
                Row(Column("field"), Column("operator"), Column("value")),
            ),
            Fieldset(
                _("On the lead's events (engagement)"),
                Row(Column("event_type"), Column("url_contains"), Column("buying_signal")),
                Row(
                    Column("min_count"),
                    Column("window_days"),
                    Column("half_life_days"),
                    Column("cap"),
                ),
                "per_occurrence",
            ),
            Row(Column("must_have"), Column("counts_towards_mql"), Column("position")),
        )

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in (CriterionKind.FIT, CriterionKind.LEAD_DEFINITION):
            self._clean_data_rule(cleaned, kind)
        elif kind == CriterionKind.ENGAGEMENT:
            self._clean_engagement_rule(cleaned)
        return cleaned

    def _clean_data_rule(self, cleaned: dict, kind: str) -> None:
        operator = cleaned.get("operator")
        value = (cleaned.get("value") or "").strip()
        if operator in DOMAIN_OPERATORS and not cleaned.get("field"):
            # These operators always read the e-mail address.
            cleaned["field"] = "email"
        if not cleaned.get("field"):
            self.add_error("field", _("Choose the field this rule reads."))
        if not operator:
            self.add_error("operator", _("Choose how the field is compared."))
        elif operator != Operator.IS_SET and not value:
            self.add_error("value", _("Give the value to compare with."))
        elif operator == Operator.MATCHES:
            try:
                re.compile(value)
            except re.error as error:
                self.add_error(
                    "value",
                    _("This is not a valid pattern (regular expression): %(error)s")
                    % {"error": error},
                )
        elif operator in NUMBER_OPERATORS:
            try:
                finite = Decimal(value).is_finite()
            except InvalidOperation:
                finite = False
            if not finite:
                self.add_error("value", _("Give a number, such as 50 or 2500.00."))
        if kind == CriterionKind.LEAD_DEFINITION and cleaned.get("points"):
            self.add_error("points", _("A lead definition rule gives no points: use 0."))
        # Engagement settings mean nothing here; drop them so the rule reads as it works.
        cleaned.update(event_type="", url_contains="", per_occurrence=False, cap=None)

    def _clean_engagement_rule(self, cleaned: dict) -> None:
        if cleaned.get("points") == 0:
            self.add_error("points", _("An engagement rule needs points (negative is allowed)."))
        if cleaned.get("cap") is not None and not cleaned.get("per_occurrence"):
            self.add_error("cap", _("A cap applies only to points per occurrence."))
        cleaned.update(field="", operator="", value="")


CriterionFormSet = forms.inlineformset_factory(
    CriteriaVersion, Criterion, form=CriterionForm, extra=1, can_delete=True
)


class StageDefinitionForm(forms.Form):
    """What one stage means in this version; the stage is given by the form's place in the
    formset, never by the browser."""

    definition = forms.CharField(
        label=_("Definition"), widget=forms.Textarea(attrs={"rows": 2}), required=False,
        max_length=4000,
    )  # fmt: skip
    owning_team = forms.ChoiceField(label=_("Owning team"), choices=Team.choices)
    effective_from = forms.DateField(
        label=_("Effective from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            Row(
                Column("definition", css_class="col-md-6"),
                Column("owning_team"),
                Column("effective_from"),
            )
        )


_StageDefinitionBaseFormSet = forms.formset_factory(
    StageDefinitionForm,
    extra=0,
    min_num=len(Stage),
    max_num=len(Stage),
    validate_min=True,
    validate_max=True,
)


class StageDefinitionFormSet(_StageDefinitionBaseFormSet):
    """One form per stage, in the order of `Stage`."""

    def __init__(self, data=None, *, version: CriteriaVersion, **kwargs):
        self.version = version
        existing = {d.stage: d for d in version.definitions.all()}
        initial = []
        for stage in Stage:
            definition = existing.get(stage)
            initial.append(
                {
                    "definition": definition.definition if definition else "",
                    "owning_team": definition.owning_team
                    if definition
                    else Team.MARKETING
                    if stage in MARKETING_STAGES
                    else Team.SALES,
                    "effective_from": definition.effective_from if definition else None,
                }
            )
        self.existing = existing
        super().__init__(data, initial=initial, prefix="definitions", **kwargs)

    def stages(self) -> list[tuple[Stage, StageDefinitionForm]]:
        return list(zip(Stage, self.forms, strict=False))

    def save(self) -> None:
        """Write the definitions that exist already or were filled in; part of the caller's
        transaction."""
        for stage, form in self.stages():
            if stage not in self.existing and not form.has_changed():
                continue
            self.version.definitions.update_or_create(
                stage=stage,
                defaults={
                    "definition": form.cleaned_data["definition"].strip(),
                    "owning_team": form.cleaned_data["owning_team"],
                    "effective_from": form.cleaned_data["effective_from"],
                },
            )
