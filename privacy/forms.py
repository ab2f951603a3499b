from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import Lead
from leads.normalise import normalise_email


class EraseForm(forms.Form):
    """Erasing cannot be undone: the admin types the person's address to show they mean
    this person, and says why (the reason goes into the log, scrubbed of the person)."""

    confirm_email = forms.CharField(
        label=_("Type the person's e-mail address to confirm"), max_length=254
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "For example: request by e-mail of 3 March. Do not write the person's name or "
            "address here; it would be removed anyway."
        ),
    )

    def __init__(self, *args, lead: Lead, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead
        self.helper = FormHelper()
        self.helper.layout = Layout(
            "confirm_email",
            "reason",
            Submit("erase", _("Erase this person for good"), css_class="btn-danger"),
        )

    def clean_confirm_email(self) -> str:
        typed = normalise_email(self.cleaned_data["confirm_email"])
        if typed != normalise_email(self.lead.email):
            raise forms.ValidationError(
                _("This is not the address of this lead. Nothing was erased.")
            )
        return typed
