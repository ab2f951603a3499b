"""The admin's forms: a retention policy, and the confirmation before erasing."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import Purpose
from retention.models import MAX_MONTHS, AppliesTo, RetentionPolicy


class RetentionPolicyForm(forms.ModelForm):
    """A policy; only a policy about a withdrawn purpose names a purpose."""

    months = forms.IntegerField(
        label=_("Months"),
        min_value=1,
        max_value=MAX_MONTHS,
        help_text=RetentionPolicy._meta.get_field("months").help_text,
    )

    class Meta:
        model = RetentionPolicy
        fields = ["name", "description", "applies_to", "purpose", "months", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Withdrawing stays possible after a purpose is switched off, so every purpose.
        self.fields["purpose"].queryset = Purpose.objects.order_by("key")
        self.helper = FormHelper()
        self.helper.layout = Layout(
            "name",
            "description",
            Row(Column("applies_to"), Column("purpose")),
            Row(Column("months"), Column("is_active")),
        )
        self.helper.add_input(Submit("submit", _("Save")))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("applies_to") != AppliesTo.WITHDRAWN_PURPOSE:
            # A purpose picked before switching to another kind of policy means nothing.
            cleaned["purpose"] = None
        elif not cleaned.get("purpose") and "purpose" not in self.errors:
            self.add_error("purpose", _("Say which purpose the leads withdrew from."))
        return cleaned


class ApplyForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have read the report: erase these leads for good."),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )
