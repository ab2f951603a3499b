from crispy_forms.bootstrap import FormActions
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Field, Fieldset, Layout, Submit
from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.models import User
from consent.models import NoticeVersion
from leads.filters import owner_choices, possible_owners
from leads.models import Lead
from leads.normalise import normalise_email, normalise_phone, parse_amount
from leads.services.profile import EDITABLE_FIELDS
from leads.validation import LeadDataForm

EMAIL_TAKEN = _("Another lead has this e-mail address; merge the two instead.")


class LeadProfileForm(forms.ModelForm):
    """The edit page's fields. Stage, scores, owner and merging are not among them, so a
    posted `stage` or `owner` is ignored, never saved."""

    # Wider than the column: people type spaces, dashes and brackets; E.164 fits in 16.
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    # The same fields as every capture channel, so an edit accepts what capture accepts.
    company_size = LeadDataForm.base_fields["company_size"]
    budget = LeadDataForm.base_fields["budget"]

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
        others = Lead.objects.holding_address(email, besides=self.instance)
        if others.exists():
            raise forms.ValidationError(EMAIL_TAKEN, code="taken")
        return email

    def clean_budget(self):
        try:
            return parse_amount(self.cleaned_data["budget"])
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from error

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


# Who enters a lead by hand sets the person's details and how they first met; stage, score,
# owner and the source channel (always "manual entry") are not theirs to set.
MANUAL_ENTRY_FIELDS = [*EDITABLE_FIELDS, "campaign"]


class ManualEntryForm(LeadDataForm):
    """A lead typed in by a marketer or sales rep: the lead fields every channel validates,
    and one box per consent purpose for the consent the person gave them.

    A posted `stage`, `score`, `owner` or `source` is not a field here, so it is ignored.
    """

    def __init__(self, *args, notices: dict[str, NoticeVersion], cancel_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in MANUAL_ENTRY_FIELDS:
                del self.fields[name]
        self.notices = notices
        # A list to pick from rather than free text; LeadDataForm still checks the code.
        self.fields["country"] = forms.ChoiceField(
            label=_("Country"), choices=[("", "—"), *countries], required=False
        )
        for name in ["seniority", "timeframe"]:
            self.fields[name].choices = [("", "—"), *self.fields[name].choices[1:]]
        self.fields["need"].widget = forms.Textarea(attrs={"rows": 4})
        self.fields["phone"].widget.input_type = "tel"
        # The details are someone else's: the browser must not offer the user's own.
        for name in ["email", "first_name", "last_name", "phone", "company", "job_title"]:
            self.fields[name].widget.attrs["autocomplete"] = "off"
        self.fields["phone"].help_text = _(
            "Without a country code the number is read as one of the lead's country."
        )
        self.fields["campaign"].help_text = _("The campaign or event where you met, if any.")
        consent_fields = []
        for key, notice in notices.items():
            name = self.consent_field(key)
            self.fields[name] = forms.BooleanField(
                # Every box says the same; the purpose and the notice's exact words tell them
                # apart, so both are in the label a screen reader reads out.
                label=_("%(purpose)s: the person gave this consent to me (verbally or in writing)")
                % {"purpose": notice.purpose.name},
                help_text=_("What they agreed to (notice version %(version)s): “%(text)s”")
                % {"version": notice.version, "text": notice.text},
                required=False,
            )
            consent_fields.append(Field(name))
        actions = FormActions(Submit("submit", _("Save lead")))
        if cancel_url:
            actions.append(
                HTML(
                    format_html('<a class="btn btn-link" href="{}">{}</a>', cancel_url, _("Cancel"))
                )
            )
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(_("Person"), "email", "first_name", "last_name", "phone", "country"),
            Fieldset(_("Company"), "company", "job_title", "seniority", "company_size", "industry"),
            Fieldset(_("Need"), "need", "budget", "timeframe", "campaign"),
            *([Fieldset(_("Consent"), *consent_fields)] if consent_fields else []),
            actions,
        )

    @staticmethod
    def consent_field(purpose_key: str) -> str:
        return f"consent_{purpose_key}"

    def ticked_notices(self) -> list[NoticeVersion]:
        """The notices of the purposes the person consented to, as the boxes say."""
        return [
            notice
            for key, notice in self.notices.items()
            if self.cleaned_data.get(self.consent_field(key))
        ]

    def lead_data(self) -> dict[str, str]:
        """The lead fields as typed, for `capture_lead` to validate and normalise."""
        return {name: self.data.get(name, "") for name in MANUAL_ENTRY_FIELDS}


class LeadSelectionField(forms.ModelMultipleChoiceField):
    """The leads ticked in the list: active leads, given by id, at most MAX_BULK_LEADS."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"required": _("Select at least one lead.")})
        super().__init__(queryset=Lead.objects.active(), **kwargs)

    def clean(self, value):
        if value and len(set(value)) > MAX_BULK_LEADS:
            raise forms.ValidationError(
                LeadIdsField.default_error_messages["too_many"],
                code="too_many",
                params={"max": MAX_BULK_LEADS},
            )
        return super().clean(value)


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
    # A file meant for a campaign holds only leads with marketing consent, and each row a
    # link to withdraw it; the user sees first how many are left out and why.
    for_campaign = forms.BooleanField(required=False)
    confirmed = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == ExportScope.SELECTED and not cleaned.get("lead"):
            self.add_error("lead", _("Select at least one lead."))
        return cleaned


# A page of the list holds 25 leads; this bounds the work one forged request can ask for.
MAX_BULK_LEADS = 500


class LeadIdsField(forms.Field):
    """Ids of leads ticked in the list, as posted: whether each lead still exists and may
    be changed is for the service to say, lead by lead."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Select at least one lead."),
        "invalid": _("Tick leads in the list; this is not a lead."),
        "too_many": _("Select at most %(max)d leads at a time."),
    }

    def to_python(self, value) -> list[int]:
        ids: list[int] = []
        for item in value or []:
            try:
                pk = int(item)
            except (TypeError, ValueError) as error:
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid"
                ) from error
            if not 0 < pk < 2**63:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            if pk not in ids:
                ids.append(pk)
        if len(ids) > MAX_BULK_LEADS:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": MAX_BULK_LEADS}
            )
        return ids


class AddToNurtureForm(forms.Form):
    """The list's "add to nurture" action: the ticked leads and why they go there."""

    # The list's action bar is one form for every bulk action: a `required` attribute here
    # would stop the assign and export buttons too. The reason is checked on the server.
    use_required_attribute = False

    lead = LeadIdsField(label=_("Leads"))
    # Not "reason": the assign action in the same form posts a field of that name.
    nurture_reason = forms.CharField(
        label=_("Why nurture?"),
        max_length=2000,
        error_messages={"required": _("Say why these leads go to nurture.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "nurture-%s")
        super().__init__(*args, **kwargs)
        self.fields["nurture_reason"].widget.attrs["class"] = "form-control"


class FindDuplicateForm(forms.Form):
    """Which lead to merge into `survivor`: found by e-mail address or by id."""

    duplicate = forms.CharField(
        label=_("E-mail address or id of the duplicate"),
        max_length=254,
        help_text=_("The other record of the same person; it is folded into this lead."),
    )

    def __init__(self, *args, survivor: Lead, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.survivor = survivor
        self.fields["duplicate"].widget.attrs["autocomplete"] = "off"
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.layout = Layout("duplicate", FormActions(Submit("find", _("Find lead"))))

    def clean_duplicate(self) -> Lead:
        text = self.cleaned_data["duplicate"].strip().removeprefix("#")
        # isdigit() alone accepts "²", which int() refuses.
        if text.isascii() and text.isdigit():
            pk = int(text)
            lead = Lead.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
            if lead is None:
                raise forms.ValidationError(
                    _("No lead has the id %(id)s."), code="unknown", params={"id": text}
                )
        else:
            email = normalise_email(text)
            lead = Lead.objects.active().filter(email=email).first()
            if lead is None:
                if Lead.objects.filter(email=email, merged_into__isnull=False).exists():
                    raise forms.ValidationError(
                        _("The lead with this address was merged already."), code="merged"
                    )
                raise forms.ValidationError(_("No lead has this e-mail address."), code="unknown")
        if lead.pk == self.survivor.pk:
            raise forms.ValidationError(
                _("That is this lead itself: look up the other record of the person."),
                code="itself",
            )
        if lead.merged_into_id is not None:
            raise forms.ValidationError(_("That lead was merged already."), code="merged")
        return lead
