"""Forms of the sales workspace: queue filters, assignment rules, teams, away status and
the breaches period."""

from datetime import date, timedelta

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from config.forms import check_date_in_range
from leads.filters import possible_owners
from leads.models import Source
from sales.models import AssignmentRule, SalesTeam


def _helper(label) -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("save", label))
    return helper


class PlainSelect(forms.Select):
    """A select rendered in Python: Django renders each option through a template, some
    20 ms for the 250 countries on every queue page."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        attrs = self.build_attrs(self.attrs, attrs)
        selected = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (code, mark_safe(" selected") if str(code) == selected else "", label)
                for code, label in self.choices
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(attrs), options)


class QueueFilterForm(forms.Form):
    country = forms.ChoiceField(
        label=_("Country"), required=False, widget=PlainSelect(attrs={"class": "form-select"})
    )
    source = forms.ChoiceField(
        label=_("Source channel"),
        required=False,
        widget=PlainSelect(attrs={"class": "form-select"}),
    )
    # Keyset paging: the score and id of the last row of the previous page.
    after = forms.RegexField(regex=r"^-?\d+_\d+$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", _("Any country")), *countries]
        self.fields["source"].choices = [("", _("Any source")), *Source.choices]

    def after_key(self) -> tuple[int, int] | None:
        value = self.cleaned_data.get("after")
        if not value:
            return None
        score, pk = value.rsplit("_", 1)
        return int(score), int(pk)


class ListField(forms.CharField):
    """A comma-separated list of words, stored as a JSON list."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        seen: list[str] = []
        for part in text.split(","):
            part = part.strip()
            if part and part.lower() not in {s.lower() for s in seen}:
                seen.append(part)
        return seen


class AssignmentRuleForm(forms.ModelForm):
    countries = forms.MultipleChoiceField(
        label=_("Countries"),
        choices=countries,
        required=False,
        help_text=_("None ticked: any country."),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    industries = ListField(
        label=_("Industries"),
        required=False,
        max_length=1000,
        help_text=_("Comma-separated, any case; empty: any industry."),
    )
    source = forms.ChoiceField(
        label=_("Source channel"), required=False, choices=[("", _("Any source")), *Source.choices]
    )

    class Meta:
        model = AssignmentRule
        fields = [
            "team",
            "active",
            "countries",
            "company_size_min",
            "company_size_max",
            "industries",
            "source",
        ]
        help_texts = {
            "company_size_min": _("Employees; empty: no lower bound."),
            "company_size_max": _("Employees; empty: no upper bound."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save rule"))

    def clean(self) -> dict:
        data = super().clean()
        low, high = data.get("company_size_min"), data.get("company_size_max")
        if low is not None and high is not None and low > high:
            self.add_error(
                "company_size_max", _("The upper bound must not be below the lower bound.")
            )
        return data


class SalesTeamForm(forms.ModelForm):
    class Meta:
        model = SalesTeam
        fields = ["name", "members"]
        widgets = {"members": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = possible_owners()
        self.fields["members"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.fields["members"].help_text = _("Only people who may work the sales queue.")
        self.helper = _helper(_("Save team"))


class AwayForm(forms.Form):
    user = forms.IntegerField(required=False, widget=forms.HiddenInput)
    away = forms.TypedChoiceField(
        label=_("Status"),
        choices=[("1", _("Away")), ("0", _("Back"))],
        coerce=lambda value: value == "1",
    )
    until = forms.DateField(
        label=_("Away until (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        help_text=_("Empty: until you mark yourself back."),
    )

    def clean_until(self):
        until = self.cleaned_data.get("until")
        if until is not None and until < timezone.localdate():
            raise forms.ValidationError(_("The date must not be in the past."))
        return until


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )
    end = forms.DateField(
        label=_("Up to and including"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )
    rep = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_start(self) -> date | None:
        return check_date_in_range(self.cleaned_data.get("start"))

    def clean_end(self) -> date | None:
        return check_date_in_range(self.cleaned_data.get("end"))

    def clean(self) -> dict:
        data = super().clean()
        if "start" in self.errors or "end" in self.errors:
            return data
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=29)
        if data["start"] > data["end"]:
            self.add_error("start", _("The start must not be after the end."))
        return data
