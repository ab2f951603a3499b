from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from imports.mapping import IGNORE, PurposeNames, consent_target, mapping_problems
from imports.parsing import CsvInspection, CsvProblem, inspect_csv
from leads.validation import LEAD_FIELDS, LeadDataForm

DELIMITER_CHOICES = [
    ("", _("Detect automatically")),
    ("semicolon", _("Semicolon (;)")),
    ("comma", _("Comma (,)")),
    ("tab", _("Tab")),
]
DELIMITERS = {"semicolon": ";", "comma": ",", "tab": "\t"}


def max_upload_bytes() -> int:
    return settings.IMPORT_MAX_UPLOAD_BYTES


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Separated by semicolons or commas, saved as UTF-8 (in Excel: CSV UTF-8). "
            "The first row names the columns."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    delimiter = forms.ChoiceField(label=_("Separator"), choices=DELIMITER_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inspection: CsvInspection | None = None
        self.helper = FormHelper()
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("submit", _("Upload and choose columns")))

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None:
            return cleaned
        if upload.size > max_upload_bytes():
            self.add_error(
                "file",
                _("This file is %(size)s; files up to %(limit)s can be imported. Split it.")
                % {
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(max_upload_bytes()),
                },
            )
            return cleaned
        try:
            self.inspection = inspect_csv(
                upload, delimiter=DELIMITERS.get(cleaned.get("delimiter") or "")
            )
        except CsvProblem as problem:
            self.add_error("file", str(problem))
        return cleaned


def _field_choices() -> list[tuple[str, str]]:
    choices = []
    for name in LEAD_FIELDS:
        label = str(LeadDataForm.base_fields[name].label)
        choices.append((name, label if label == name else f"{label} ({name})"))
    return choices


class MappingForm(forms.Form):
    """One choice per CSV column: the lead field or consent purpose it fills, or nothing."""

    def __init__(
        self,
        *args,
        headers: list[str],
        purposes: list[PurposeNames],
        proposed: list[str],
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [
            (IGNORE, _("Ignore this column")),
            (_("Lead field"), _field_choices()),
        ]
        if purposes:
            choices.append(
                (
                    _("Consent"),
                    [(consent_target(p.key), f"{p.label} ({p.key})") for p in purposes],
                )
            )
        for index, header in enumerate(headers):
            self.fields[self.field_name(index)] = forms.ChoiceField(
                label=header or _("Column %(number)s (no name)") % {"number": index + 1},
                choices=choices,
                required=False,
                widget=forms.Select(attrs={"class": "form-select"}),
                initial=proposed[index] if index < len(proposed) else IGNORE,
            )
        self.helper = FormHelper()
        self.helper.form_tag = False

    @staticmethod
    def field_name(index: int) -> str:
        return f"column_{index}"

    def mapping(self) -> list[str]:
        return [
            self.cleaned_data.get(self.field_name(index)) or IGNORE
            for index in range(len(self.headers))
        ]

    def clean(self):
        cleaned = super().clean()
        chosen: dict[str, str] = {}
        for index, header in enumerate(self.headers):
            name = self.field_name(index)
            target = cleaned.get(name)
            if not target:
                continue
            if target in chosen:
                self.add_error(
                    name,
                    _('Column "%(other)s" fills this already; choose one of the two.')
                    % {"other": chosen[target]},
                )
            chosen.setdefault(target, header)
        if problems := mapping_problems(self.mapping()):
            raise forms.ValidationError(problems)
        return cleaned
