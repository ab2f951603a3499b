from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from config.forms import check_date_in_range
from funnel.metrics import Filters, preset_period
from leads.filters import possible_owners
from leads.models import Source
from sales.models import SalesTeam

MAX_PERIOD_DAYS = 3 * 366
DEFAULT_PERIOD = "last_30_days"
PERIOD_CHOICES = [
    ("last_30_days", _("Last 30 days")),
    ("this_quarter", _("This quarter")),
    ("last_12_months", _("Last 12 months")),
    ("custom", _("From and to dates")),
]


class DashboardFilterForm(forms.Form):
    """The dashboard's filters, read from the URL so a view can be shared. An invalid field
    is reported and its default used; the rest still apply."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", _("All sources")), *Source.choices], required=False
    )
    campaign = forms.CharField(label=_("Campaign"), max_length=200, required=False)
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=None, required=False, empty_label=_("All owners")
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=SalesTeam.objects.all(),
        required=False,
        empty_label=_("All teams"),
    )
    ageing_days = forms.IntegerField(
        label=_("Stuck longer than (days)"), min_value=1, max_value=3650, required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = possible_owners()
        self.fields["owner"].error_messages["invalid_choice"] = _("Choose an owner from the list.")
        self.fields["team"].error_messages["invalid_choice"] = _("Choose a team from the list.")
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if select else "form-control")

    def clean_date_from(self) -> date | None:
        return check_date_in_range(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> date | None:
        return check_date_in_range(self.cleaned_data.get("date_to"))

    def clean(self) -> dict:
        data = super().clean()
        if "date_from" in self.errors or "date_to" in self.errors:
            return data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if end < start:
                self.add_error("date_to", _("The end date comes before the start date."))
            elif (end - start).days >= MAX_PERIOD_DAYS:
                self.add_error("date_to", _("Choose a period of at most three years."))
        elif start or end:
            self.add_error(
                "date_to" if start else "date_from", _("Give both dates, or choose a period.")
            )
        return data

    def filters(self) -> Filters:
        """The filters to show: the valid fields' values, defaults for the rest."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})  # unbound: nothing chosen
        data = {name: value for name, value in cleaned.items() if name not in self.errors}
        if data.get("date_from") and data.get("date_to") and "date_to" not in self.errors:
            start, end = data["date_from"], data["date_to"] + timedelta(days=1)
        else:
            start, end = preset_period(
                data.get("period")
                if data.get("period") not in ("", None, "custom")
                else DEFAULT_PERIOD
            )
        owner, team = data.get("owner"), data.get("team")
        return Filters(
            start=start,
            end=end,
            source=data.get("source") or "",
            campaign=(data.get("campaign") or "").strip(),
            owner_id=owner.pk if owner else None,
            team_id=team.pk if team else None,
            ageing_days=data.get("ageing_days") or 30,
        )


def period_label(start: date, end: date) -> str:
    return f"{start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"
