"""Admins' forms for processing purposes and their notice texts. They validate; the services
in consent.admin_services write."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import Purpose


class NoticeTextField(forms.CharField):
    """A notice text as typed. Browsers send a textarea's line breaks as CRLF; stored texts
    use LF, so without this an untouched notice would look changed and get a new version."""

    widget = forms.Textarea(attrs={"rows": 6})

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


_FLAGS = ("is_marketing", "is_profiling", "requires_double_opt_in")


class PurposeForm(forms.ModelForm):
    """A purpose with its notice texts. The texts start as the current notice's; changing
    either makes a new notice version."""

    text_en = NoticeTextField(
        label=_("Notice (English)"),
        help_text=_("The exact text shown where consent is asked."),
    )
    text_nl = NoticeTextField(label=_("Notice (Dutch)"))

    class Meta:
        model = Purpose
        fields = ["key", "name_en", "name_nl", "legal_basis", *_FLAGS, "is_active"]
        help_texts = {
            "key": _(
                "Web forms, imports and the API name the purpose by this key; it cannot "
                "change later."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        if editing:
            del self.fields["key"]
            current = self.instance.current_notice()
            if current is not None:
                self.initial.setdefault("text_en", current.text_en)
                self.initial.setdefault("text_nl", current.text_nl)
        else:
            # A new purpose starts active; switching it off is an edit.
            del self.fields["is_active"]
        self.helper = FormHelper()
        self.helper.layout = Layout(
            *(["key"] if not editing else []),
            Row(Column("name_en"), Column("name_nl")),
            "legal_basis",
            Fieldset(_("Use"), *_FLAGS, *(["is_active"] if editing else [])),
            Fieldset(_("Notice"), "text_en", "text_nl"),
        )
        self.helper.add_input(Submit("submit", _("Save") if editing else _("Create purpose")))

    def service_arguments(self) -> dict:
        """The cleaned fields, named as consent.admin_services expects them."""
        return dict(self.cleaned_data)
