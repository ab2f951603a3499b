from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=Role.choices, label=_("Roles"), **kwargs)


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        error_messages={"invalid": _("Use letters, digits and @ . + - _ only.")},
    )
    email = forms.EmailField(label=_("E-mail address"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    roles = RolesField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Create and send invitation")))

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A user with this e-mail address exists."))
        return email


class UserRolesForm(forms.Form):
    roles = RolesField(required=False)
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("An inactive user cannot log in; their leads and history stay."),
    )

    def __init__(self, *args, editing_self: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing_self = editing_self
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save")))

    def clean(self):
        cleaned = super().clean()
        # An admin locking themselves out would leave nobody to undo it.
        if self.editing_self:
            if not cleaned.get("is_active"):
                self.add_error("is_active", _("You cannot deactivate yourself."))
            if Role.ADMIN not in cleaned.get("roles", []):
                self.add_error("roles", _("You cannot remove your own admin role."))
        return cleaned
