"""The one validation of lead data, shared by every channel through `capture_lead`."""

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Seniority, Source, Timeframe
from leads.normalise import normalise_country, normalise_email, normalise_phone, parse_amount

# The names every channel uses: API fields, CSV headers, web form inputs.
LEAD_FIELDS = [
    "email", "first_name", "last_name", "phone", "company", "job_title", "seniority",
    "company_size", "industry", "country", "budget", "need", "timeframe", "source",
    "campaign", "utm_source", "utm_medium", "utm_campaign",
]  # fmt: skip

# Set by Leadladder itself, never by whoever submits lead data.
PROTECTED_FIELDS = {
    "id", "stage", "score", "fit_score", "engagement_score", "owner", "owner_id",
    "merged_into", "merged_into_id", "created_at", "updated_at", "last_activity_at",
    "is_staff", "is_superuser", "consent", "consents_status", "is_decision_maker",
}  # fmt: skip

DECISION_MAKING_SENIORITY = {Seniority.EXECUTIVE, Seniority.DIRECTOR}


def _max_length(name: str) -> int:
    return Lead._meta.get_field(name).max_length


class LeadDataForm(forms.Form):
    """Validates and normalises one lead's data; errors are per field and translatable."""

    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    first_name = forms.CharField(
        label=_("First name"), max_length=_max_length("first_name"), required=False
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=_max_length("last_name"), required=False
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company = forms.CharField(label=_("Company"), max_length=_max_length("company"), required=False)
    job_title = forms.CharField(
        label=_("Job title"), max_length=_max_length("job_title"), required=False
    )
    seniority = forms.ChoiceField(
        label=_("Seniority"), choices=[("", "")] + Seniority.choices, required=False
    )
    company_size = forms.IntegerField(
        label=_("Company size (employees)"), min_value=1, max_value=10_000_000, required=False
    )
    industry = forms.CharField(
        label=_("Industry"), max_length=_max_length("industry"), required=False
    )
    country = forms.CharField(label=_("Country"), max_length=100, required=False)
    budget = forms.CharField(label=_("Budget"), max_length=40, required=False)
    need = forms.CharField(label=_("Need / pain"), max_length=5000, required=False)
    timeframe = forms.ChoiceField(
        label=_("Timeframe"), choices=[("", "")] + Timeframe.choices, required=False
    )
    source = forms.ChoiceField(
        label=_("Source channel"), choices=[("", "")] + Source.choices, required=False
    )
    campaign = forms.CharField(
        label=_("Campaign"), max_length=_max_length("campaign"), required=False
    )
    utm_source = forms.CharField(label="utm_source", max_length=200, required=False)
    utm_medium = forms.CharField(label="utm_medium", max_length=200, required=False)
    utm_campaign = forms.CharField(label="utm_campaign", max_length=200, required=False)

    def clean_email(self) -> str:
        return _normalised("email", self.cleaned_data["email"])

    def clean_country(self) -> str:
        return _normalised("country", self.cleaned_data["country"])

    def clean_budget(self):
        return _normalised("budget", self.cleaned_data["budget"])

    def clean(self):
        cleaned = super().clean()
        if "phone" in cleaned and "country" in cleaned:
            try:
                cleaned["phone"] = _normalised_phone(cleaned["phone"], cleaned["country"])
            except forms.ValidationError as error:
                self.add_error("phone", error)
        return cleaned


_NORMALISERS = {"email": normalise_email, "country": normalise_country, "budget": parse_amount}


def _normalised(name: str, value):
    try:
        return _NORMALISERS[name](value)
    except ValueError as error:
        raise forms.ValidationError(str(error), code="invalid") from error


def _normalised_phone(phone: str, country: str) -> str:
    try:
        return normalise_phone(phone, country=country)
    except ValueError as error:
        raise forms.ValidationError(str(error), code="invalid") from error


def validate_lead_data(data) -> tuple[dict, dict[str, list[str]]]:
    """Clean `data` (a dict or QueryDict); returns (cleaned values, errors per field).

    The same fields and normalisers as LeadDataForm, applied without building a form: a
    form instance deep-copies its fields, which made a 100,000-row import spend most of its
    time copying. Field.clean() keeps no state, so the class's own fields serve every call.
    """
    cleaned: dict = {}
    errors: dict[str, list[str]] = {}
    for name, field in LeadDataForm.base_fields.items():
        raw = field.widget.value_from_datadict(data, {}, name)
        try:
            value = field.clean(raw)
            if name in _NORMALISERS:
                value = _normalised(name, value)
            cleaned[name] = value
        except forms.ValidationError as error:
            errors[name] = [str(message) for message in error.messages]
    if "phone" in cleaned and "country" in cleaned:
        try:
            cleaned["phone"] = _normalised_phone(cleaned["phone"], cleaned["country"])
        except forms.ValidationError as error:
            errors["phone"] = [str(message) for message in error.messages]
    if errors:
        return {}, errors
    cleaned["is_decision_maker"] = cleaned["seniority"] in DECISION_MAKING_SENIORITY
    return cleaned, {}
