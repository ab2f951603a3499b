"""Forms of the work panel and the pipeline board: they validate; activities.services and
scoring.services.transition write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from activities.models import ActivityKind, Outcome
from activities.services import OUTCOMES_BY_KIND
from leads.filters import possible_owners
from leads.models import Stage
from scoring.models import LossReason, RejectionReason
from scoring.services import BANT_FIELDS, BANT_MAX_LENGTH

# Clocks drift and people round up: "now" typed a minute ahead is still now.
FUTURE_TOLERANCE = timedelta(minutes=5)
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class ActivityForm(forms.Form):
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"))
    occurred_at = forms.DateTimeField(label=gettext_lazy("When"), widget=DATETIME_INPUT)
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, kind: str, **kwargs):
        kwargs.setdefault("initial", {"occurred_at": timezone.localtime().replace(second=0)})
        super().__init__(*args, **kwargs)
        self.kind = ActivityKind(kind)
        self.fields["outcome"].choices = [
            (value, Outcome(value).label) for value in OUTCOMES_BY_KIND[self.kind]
        ]
        self.fields["outcome"].widget.attrs["autofocus"] = True

    def clean_occurred_at(self):
        when = self.cleaned_data["occurred_at"]
        now = timezone.now()
        if when > now + FUTURE_TOLERANCE:
            raise forms.ValidationError(_("Log what happened: the time cannot be in the future."))
        if when <= now < when + timedelta(minutes=1):
            # The field shows minutes only: the current minute means "now". Stored as its
            # start, a call made right after claiming a lead would seem to precede the
            # hand-over and not stop the SLA clock.
            return now
        return when


class TaskForm(forms.Form):
    title = forms.CharField(
        label=gettext_lazy("What"),
        max_length=200,
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    due_at = forms.DateTimeField(label=gettext_lazy("Due"), widget=DATETIME_INPUT)
    assignee = UserChoiceField(label=gettext_lazy("For"), queryset=None)

    def __init__(self, *args, user, **kwargs):
        tomorrow = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
        kwargs.setdefault("initial", {"due_at": tomorrow + timedelta(days=1), "assignee": user.pk})
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = possible_owners()


class StageForm(forms.Form):
    """A stage move: the stage the person saw travels along, so a lead moved meanwhile gives
    a conflict instead of being moved twice."""

    expected_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    # Where TransitionIncomplete(field=...) is shown; None: above the form.
    service_fields: dict[str, str | None] = {"reason": "reason"}

    def details(self) -> dict:
        return {}

    def reason(self) -> str:
        return self.cleaned_data.get("reason", "")


def _reason(label: Promise, *, required: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _bant(label: Promise, autofocus: bool = False) -> forms.CharField:
    attrs = {"autofocus": True} if autofocus else {}
    return forms.CharField(
        label=label, max_length=BANT_MAX_LENGTH, widget=forms.TextInput(attrs=attrs)
    )


class AcceptForm(StageForm):
    budget = _bant(gettext_lazy("Budget"), autofocus=True)
    authority = _bant(gettext_lazy("Authority"))
    need = _bant(gettext_lazy("Need"))
    timeline = _bant(gettext_lazy("Timeline"))
    reason = _reason(gettext_lazy("Note"), required=False)
    service_fields = {"reason": "reason", "bant": None}

    def details(self) -> dict:
        return {"bant": {name: self.cleaned_data[name] for name in BANT_FIELDS}}


class RejectForm(StageForm):
    rejection = forms.ChoiceField(
        label=gettext_lazy("Why"),
        choices=[("", "---------"), *RejectionReason.choices],
        widget=forms.Select(attrs={"autofocus": True}),
    )
    reason = _reason(gettext_lazy("Explain for marketing"), required=True)
    service_fields = {"reason": "reason", "rejection": "rejection"}

    def details(self) -> dict:
        return {"rejection": self.cleaned_data["rejection"]}


class OfferForm(StageForm):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        max_digits=14,
        decimal_places=2,
        min_value=0.01,
        widget=forms.NumberInput(attrs={"autofocus": True, "step": "0.01"}),
    )
    expected_close_date = forms.DateField(
        label=gettext_lazy("Expected close date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = _reason(gettext_lazy("Note"), required=False)
    # The form checks the amount; the service checks the date is not in the past.
    service_fields = {"reason": "reason", "offer": "expected_close_date"}

    def details(self) -> dict:
        return {
            "offer": {
                "amount": str(self.cleaned_data["amount"]),
                "expected_close_date": self.cleaned_data["expected_close_date"],
            }
        }


class WonForm(StageForm):
    reason = forms.CharField(
        label=gettext_lazy("Why did we win?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "autofocus": True}),
    )


class LostForm(StageForm):
    loss = forms.ChoiceField(
        label=gettext_lazy("Why"),
        choices=[("", "---------"), *LossReason.choices],
        widget=forms.Select(attrs={"autofocus": True}),
    )
    reason = _reason(gettext_lazy("What happened"), required=True)
    service_fields = {"reason": "reason", "loss": "loss"}

    def details(self) -> dict:
        return {"loss": self.cleaned_data["loss"]}


@dataclass(frozen=True)
class StageAction:
    """A button on the work panel and the pipeline board that moves a lead."""

    name: str
    label: Promise
    from_stage: Stage
    to_stage: Stage
    form_class: type[StageForm]
    button_class: str = "btn-primary"


_ACTIONS = [
    StageAction("accept", gettext_lazy("Accept (SQL)"), Stage.MQL, Stage.SQL, AcceptForm),
    StageAction(
        "reject",
        gettext_lazy("Reject to marketing"),
        Stage.MQL,
        Stage.NURTURE,
        RejectForm,
        "btn-outline-danger",
    ),
    StageAction("offer", gettext_lazy("Make an offer"), Stage.SQL, Stage.OPPORTUNITY, OfferForm),
    StageAction("won", gettext_lazy("Won"), Stage.OPPORTUNITY, Stage.WON, WonForm, "btn-success"),
    StageAction(
        "lost", gettext_lazy("Lost"), Stage.OPPORTUNITY, Stage.LOST, LostForm, "btn-outline-danger"
    ),
]
STAGE_ACTIONS: dict[str, StageAction] = {action.name: action for action in _ACTIONS}

LOG_LABELS = {
    ActivityKind.CALL: gettext_lazy("Log a call"),
    ActivityKind.EMAIL: gettext_lazy("Log an e-mail"),
    ActivityKind.MEETING: gettext_lazy("Log a meeting"),
}


class PipelineFilterForm(forms.Form):
    # Choices (everyone, or one person) are set by the view.
    owner = forms.ChoiceField(label=gettext_lazy("Owner"), required=False)
    period = forms.TypedChoiceField(
        label=gettext_lazy("Won and lost in the last"),
        coerce=int,
        required=False,
        choices=[
            (30, gettext_lazy("30 days")),
            (90, gettext_lazy("90 days")),
            (180, gettext_lazy("180 days")),
            (365, gettext_lazy("365 days")),
        ],
    )
