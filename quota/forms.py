"""The calculator's inputs (all in GET, so a calculation is a shareable URL) and saving one."""

import datetime
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.forms import check_date_in_range
from quota.calculation import add_months
from quota.models import RATE_KEYS

# Named periods and their months; a whole number of months (1 to MAX_MONTHS) works too.
NAMED_PERIODS = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}
MAX_MONTHS = 60
# A trillion: beyond any real target, and small enough that nothing overflows the columns.
MAX_AMOUNT = Decimal("999999999999")
# Measured rates look back at most this far: older history says little about next quarter.
MAX_RATE_WINDOW_DAYS = 366 * 5

RATE_LABELS = {
    "contact_lead": _("Contact → lead"),
    "lead_mql": _("Lead → MQL"),
    "mql_sql": _("MQL → SQL"),
    "sql_opportunity": _("SQL → opportunity"),
    "opportunity_won": _("Opportunity → won"),
}


def months_in(period: str) -> int:
    return NAMED_PERIODS.get(period) or int(period)


def default_rate_window(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The last 12 months: from a year ago up to and including today."""
    today = today or timezone.localdate()
    return add_months(today, -12) + datetime.timedelta(days=1), today


def _amount(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
    )


class QuotaForm(forms.Form):
    revenue_target = _amount(_("Revenue target (€)"))
    average_deal_size = _amount(_("Average deal size (€)"))
    period = forms.CharField(
        label=_("Period"),
        max_length=10,
        help_text=_("month, quarter, half-year or year, or a number of months from 1 to %(max)d.")
        % {"max": MAX_MONTHS},
    )
    rates_since = forms.DateField(
        label=_("Measure rates from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    rates_until = forms.DateField(
        label=_("up to and including"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, public: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # Anonymous visitors get the default window only: with a window of their own choice
        # (one day, say) measured rates would disclose lead volumes.
        self.public = public
        if public:
            del self.fields["rates_since"], self.fields["rates_until"]
        # An empty rate means: use the measured one.
        for key in RATE_KEYS:
            self.fields[f"rate_{key}"] = forms.DecimalField(
                label=RATE_LABELS[key],
                required=False,
                min_value=Decimal("0"),
                max_value=Decimal("100"),
                max_digits=5,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "100"}),
            )

    def clean_period(self) -> str:
        period = self.cleaned_data["period"].strip().lower()
        if period in NAMED_PERIODS:
            return period
        if period.isdigit() and 1 <= int(period) <= MAX_MONTHS:
            return str(int(period))
        raise forms.ValidationError(
            _("Enter month, quarter, half-year, year or a number of months from 1 to %(max)d."),
            params={"max": MAX_MONTHS},
            code="invalid_period",
        )

    def clean_rates_since(self) -> datetime.date | None:
        return check_date_in_range(self.cleaned_data.get("rates_since"))

    def clean_rates_until(self) -> datetime.date | None:
        return check_date_in_range(self.cleaned_data.get("rates_until"))

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("rates_since"), cleaned.get("rates_until")
        default_since, default_until = default_rate_window()
        if "rates_since" not in self.errors and "rates_until" not in self.errors:
            since, until = since or default_since, until or default_until
            if since > until:
                self.add_error("rates_since", _("The start must not be after the end."))
            elif (until - since).days > MAX_RATE_WINDOW_DAYS:
                self.add_error("rates_since", _("Measure over at most five years."))
            else:
                cleaned["rates_since"], cleaned["rates_until"] = since, until
        return cleaned

    @property
    def months(self) -> int:
        return months_in(self.cleaned_data["period"])

    def rate_window(self) -> tuple[datetime.date, datetime.date]:
        """The window to measure rates over: the one asked for if valid, else the default
        (always the default on the public calculator)."""
        if self.is_bound and self.is_valid() and not self.public:
            return self.cleaned_data["rates_since"], self.cleaned_data["rates_until"]
        return default_rate_window()

    def overrides(self) -> dict[str, Decimal | None]:
        """The rates (percentages) typed in, None where the measured one applies."""
        return {key: self.cleaned_data.get(f"rate_{key}") for key in RATE_KEYS}


class TargetForm(forms.Form):
    """Saving a calculation: the calculator's inputs come along as hidden fields."""

    name = forms.CharField(label=_("Name"), max_length=120)
    starts_on = forms.DateField(
        label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_starts_on(self) -> datetime.date:
        return check_date_in_range(self.cleaned_data.get("starts_on"))

    activate = forms.BooleanField(
        label=_("Track it on the dashboard"), required=False, initial=True
    )


class PublishForm(forms.Form):
    public = forms.BooleanField(
        label=_("Anyone with the link may use the calculator, without logging in"),
        required=False,
    )
