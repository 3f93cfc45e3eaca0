"""Forms of the accounts pages; they validate input, services do the writing."""

from __future__ import annotations

from django import forms

from governance.accounts.models import Team, User
from governance.accounts.roles import Role


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.SlugField(
        max_length=100, required=False, help_text="Used in URLs; derived from the name if empty."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Team.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A team with this name already exists.")
        return name


class MemberAddForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), to_field_name="username"
    )
    is_manager = forms.BooleanField(required=False, label="Manager of the team")


class MemberRemoveForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), to_field_name="username")


class RolesForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), to_field_name="username")
    roles = forms.MultipleChoiceField(
        choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class MfaCodeForm(forms.Form):
    """A code from the authenticator app (6 digits) or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        help_text="The 6-digit code from your authenticator app, or a recovery code.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
    # Where to go once the code is accepted; checked against the host before use.
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class MfaResetForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), to_field_name="username")
