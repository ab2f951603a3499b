"""Form checks several apps share."""

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Dates before this or more than LATEST_DAYS_AHEAD days ahead mean nothing to a report, a
# period or a target, and the far future overflows date arithmetic (9999-12-31 plus a day):
# refused as a form error instead.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DAYS_AHEAD = 366


def check_date_in_range(value: date | None) -> date | None:
    """`value` if it lies between EARLIEST_DATE and about a year from today, else an error."""
    latest = timezone.localdate() + timedelta(days=LATEST_DAYS_AHEAD)
    if value is not None and not EARLIEST_DATE <= value <= latest:
        raise forms.ValidationError(
            _("Choose a date between %(earliest)s and %(latest)s."),
            params={"earliest": EARLIEST_DATE.isoformat(), "latest": latest.isoformat()},
            code="out_of_range",
        )
    return value
