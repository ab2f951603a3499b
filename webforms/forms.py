"""The admin's form for defining a web form, and the form a visitor fills in."""

from urllib.parse import urlsplit

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import NoticeVersion, Purpose
from leads.validation import LeadDataForm
from webforms.models import VISITOR_FIELDS, WebForm, normalise_origin

HONEYPOT_FIELD = "website"
TOKEN_FIELD = "token"


def _field_choices() -> list[tuple[str, str]]:
    return [(name, LeadDataForm.base_fields[name].label) for name in VISITOR_FIELDS]


class WebFormForm(forms.ModelForm):
    lead_fields = forms.MultipleChoiceField(
        label=_("Fields"),
        choices=_field_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The e-mail address is always asked."),
    )
    required_lead_fields = forms.MultipleChoiceField(
        label=_("Required fields"),
        choices=_field_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    redirect_url = forms.URLField(
        label=_("Redirect to"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("After sending, go to this address instead of the thank-you text."),
    )
    allowed_origins = forms.CharField(
        label=_("Websites that may embed this form"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line, such as https://www.example.nl. Leave empty to allow none."),
    )

    class Meta:
        model = WebForm
        fields = [
            "name", "slug", "is_active", "lead_fields", "required_lead_fields", "purposes",
            "required_purposes", "thank_you_en", "thank_you_nl", "redirect_url", "campaign",
            "utm_source", "utm_medium", "utm_campaign", "allowed_origins",
        ]  # fmt: skip
        widgets = {
            "purposes": forms.CheckboxSelectMultiple,
            "required_purposes": forms.CheckboxSelectMultiple,
            "thank_you_en": forms.Textarea(attrs={"rows": 3}),
            "thank_you_nl": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only purposes with a notice text can be asked: the form shows that text.
        askable = Purpose.objects.active().filter(notices__isnull=False).distinct()
        self.fields["purposes"].queryset = askable
        self.fields["required_purposes"].queryset = askable
        if self.instance.pk and not self.is_bound:
            self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(_("Form"), "name", "slug", "is_active"),
            Fieldset(_("Fields"), "lead_fields", "required_lead_fields"),
            Fieldset(_("Consent"), "purposes", "required_purposes"),
            Fieldset(_("After sending"), "thank_you_en", "thank_you_nl", "redirect_url"),
            Fieldset(_("Campaign"), "campaign", "utm_source", "utm_medium", "utm_campaign"),
            Fieldset(_("Embedding"), "allowed_origins"),
        )
        self.helper.add_input(Submit("submit", _("Save")))

    def clean_allowed_origins(self) -> list[str]:
        origins, wrong = [], []
        for line in self.cleaned_data["allowed_origins"].splitlines():
            if not line.strip():
                continue
            try:
                origins.append(normalise_origin(line))
            except ValueError:
                wrong.append(line.strip())
        if wrong:
            raise forms.ValidationError(
                _("Not a website address of the form https://host: %(origins)s"),
                params={"origins": ", ".join(wrong)},
            )
        return list(dict.fromkeys(origins))

    def clean_redirect_url(self) -> str:
        url = self.cleaned_data["redirect_url"]
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError(_("Use an http or https address."))
        return url

    def clean(self):
        cleaned = super().clean()
        shown = set(cleaned.get("lead_fields") or [])
        if set(cleaned.get("required_lead_fields") or []) - shown:
            self.add_error("required_lead_fields", _("A required field must also be shown."))
        asked = set(cleaned.get("purposes") or [])
        if set(cleaned.get("required_purposes") or []) - asked:
            self.add_error("required_purposes", _("A required purpose must also be asked."))
        return cleaned


class TelInput(forms.TextInput):
    input_type = "tel"


# What browsers and password managers need to fill in a form for the visitor.
_AUTOCOMPLETE = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "phone": "tel",
    "company": "organization",
    "job_title": "organization-title",
    "country": "country-name",
}


class SubmissionForm(LeadDataForm):
    """What a visitor fills in: the form's lead fields, one checkbox per consent purpose
    with the exact notice text as its label, and a honeypot only bots fill in.

    Validates with the lead fields' own rules, so a wrong e-mail address is told at once;
    `capture_lead` checks everything again.
    """

    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, web_form: WebForm, notices: dict[str, NoticeVersion], **kwargs):
        super().__init__(*args, **kwargs)
        self.web_form = web_form
        self.notices = notices
        shown = ["email", *[name for name in VISITOR_FIELDS if name in web_form.lead_fields]]
        for name in list(self.fields):
            if name not in shown and name != HONEYPOT_FIELD:
                del self.fields[name]
        for name in shown:
            field = self.fields[name]
            field.required = name == "email" or name in web_form.required_lead_fields
            if name in _AUTOCOMPLETE:
                field.widget.attrs["autocomplete"] = _AUTOCOMPLETE[name]
        if "need" in self.fields:
            self.fields["need"].label = _("How can we help you?")
            self.fields["need"].widget = forms.Textarea(attrs={"rows": 4})
        if "phone" in self.fields:
            self.fields["phone"].widget = TelInput(attrs={"autocomplete": "tel"})
        if "budget" in self.fields:
            self.fields["budget"].widget.attrs["inputmode"] = "decimal"

        required = {purpose.key for purpose in web_form.required_purposes.all()}
        for key, notice in notices.items():
            self.fields[self.consent_field(key)] = forms.BooleanField(
                # The label is the notice, word for word: the consent record names this version.
                label=notice.text,
                required=key in required,
                error_messages={
                    "required": _("Tick this box to send the form: we need this consent.")
                },
            )

        self.helper = FormHelper()
        self.helper.form_tag = False
        # The form posts without a CSRF cookie (an embedded form cannot count on cookies);
        # the signed render token and the Origin check stand in for it.
        self.helper.disable_csrf = True
        consent_fields = [self.consent_field(key) for key in notices]
        self.helper.layout = Layout(
            *shown,
            *([Fieldset(_("Your consent"), *consent_fields)] if consent_fields else []),
            Div(HONEYPOT_FIELD, css_class="visually-hidden", aria_hidden="true"),
        )

    @staticmethod
    def consent_field(purpose_key: str) -> str:
        return f"consent_{purpose_key}"

    def ticked_purposes(self) -> list[str]:
        return [key for key in self.notices if self.cleaned_data.get(self.consent_field(key))]

    def lead_data(self) -> dict[str, str]:
        """The visitor's answers as sent, for `capture_lead` to validate and normalise."""
        shown = [name for name in self.fields if name in LeadDataForm.base_fields]
        return {name: self.data.get(name, "") for name in shown}
