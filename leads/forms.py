from crispy_forms.bootstrap import FormActions
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Fieldset, Layout, Submit
from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from leads.filters import owner_choices, possible_owners
from leads.models import Lead
from leads.normalise import normalise_email, normalise_phone
from leads.services.profile import EDITABLE_FIELDS

EMAIL_TAKEN = _("Another lead has this e-mail address; merge the two instead.")


class LeadProfileForm(forms.ModelForm):
    """The edit page's fields. Stage, scores, owner and merging are not among them, so a
    posted `stage` or `owner` is ignored, never saved."""

    # Wider than the column: people type spaces, dashes and brackets; E.164 fits in 16.
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company_size = forms.IntegerField(
        label=_("Company size (employees)"), min_value=1, max_value=10_000_000, required=False
    )

    class Meta:
        model = Lead
        fields = EDITABLE_FIELDS
        widgets = {"need": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, cancel_url: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].error_messages["invalid_choice"] = _(
            "Choose a country from the list."
        )
        self.fields["phone"].help_text = _(
            "Without a country code the number is read as one of the lead's country."
        )
        actions = FormActions(Submit("submit", _("Save")))
        if cancel_url:
            cancel = format_html(
                '<a class="btn btn-link" href="{}">{}</a>', cancel_url, _("Cancel")
            )
            actions.append(HTML(cancel))
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(_("Person"), "email", "first_name", "last_name", "phone", "country"),
            Fieldset(_("Company"), "company", "job_title", "seniority", "company_size", "industry"),
            Fieldset(_("Need"), "need", "budget", "timeframe"),
            actions,
        )

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        others = Lead.objects.active().filter(email=email).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(EMAIL_TAKEN, code="taken")
        return email

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("phone"):
            # Read a number without country code as one of the lead's (new) country.
            country = cleaned.get("country") or self.instance.country
            try:
                cleaned["phone"] = normalise_phone(cleaned["phone"], country=str(country or ""))
            except ValueError as error:
                self.add_error("phone", str(error))
        return cleaned


class LeadSelectionField(forms.ModelMultipleChoiceField):
    """The leads ticked in the list: active leads, given by id."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"required": _("Select at least one lead.")})
        super().__init__(queryset=Lead.objects.active(), **kwargs)


class AssignOwnerForm(forms.Form):
    lead = LeadSelectionField(label=_("Leads"))
    owner = forms.TypedChoiceField(
        label=_("New owner"), coerce=int, empty_value=None, required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args, owners: list[User] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owners = {user.pk: user for user in (possible_owners() if owners is None else owners)}
        self.fields["owner"].choices = [
            ("", _("Nobody (unassigned)")),
            *owner_choices(list(self.owners.values())),
        ]
        # Rendered field by field in the lead list's action bar, not through crispy.
        self.fields["owner"].widget.attrs["class"] = "form-select"
        self.fields["reason"].widget.attrs["class"] = "form-control"

    def clean_owner(self) -> User | None:
        owner_id = self.cleaned_data["owner"]
        return None if owner_id is None else self.owners[owner_id]


class ExportScope:
    SELECTED = "selected"
    FILTER = "filter"


class ExportForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[
            (ExportScope.SELECTED, _("The selected leads")),
            (ExportScope.FILTER, _("Every lead that matches the filters")),
        ]
    )
    lead = LeadSelectionField(label=_("Leads"), required=False)
    # The list's filters as a query string, for an export of every matching lead.
    query = forms.CharField(required=False, max_length=4000)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == ExportScope.SELECTED and not cleaned.get("lead"):
            self.add_error("lead", _("Select at least one lead."))
        return cleaned
