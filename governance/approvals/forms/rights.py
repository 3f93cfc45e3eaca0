"""Forms of the kinds that change who may do what with a guest: ownership transfer,
a policy exception, and time-limited access to it in Proxmox."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.accounts.models import Team
from governance.approvals.forms.base import RequestForm, in_future
from policy.models import Policy

# Proxmox roles a time-limited access request may ask for; never Administrator.
ACCESS_ROLES = (
    ("PVEVMUser", "VM user (console, power)"),
    ("PVEAuditor", "Auditor (read only)"),
    ("PVEVMAdmin", "VM admin (configuration)"),
)


class OwnershipTransferForm(RequestForm):
    """Hand the guest to another person (and optionally another team)."""

    kind = "ownership_transfer"
    title = "Request an ownership transfer"

    owner = forms.CharField(label="New owner (username)")
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)

    def clean_owner(self) -> int:
        username = self.cleaned_data["owner"].strip()
        owner = get_user_model().objects.filter(username=username, is_active=True).first()
        if owner is None:
            raise ValidationError("No active user has this username.", code="unknown_user")
        return owner.pk


class ExceptionForm(RequestForm):
    """A time-limited exemption of the guest from one policy."""

    kind = "exception"
    title = "Request a policy exception"

    policy = forms.ModelChoiceField(
        queryset=Policy.objects.filter(enabled=True).order_by("name"),
        help_text="The policy this VM should not be held to until the date below.",
    )
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean_until(self) -> date:
        in_future(self.cleaned_data["until"], "end date")
        return self.cleaned_data["until"]


class AccessForm(RequestForm):
    """A Proxmox role on the guest for a user, from a start to an end time."""

    kind = "access"
    title = "Request time-limited access"

    grantee = forms.CharField(label="For (username)", help_text="Empty: yourself.", required=False)
    role = forms.ChoiceField(choices=ACCESS_ROLES)
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean_grantee(self) -> int:
        username = self.cleaned_data["grantee"].strip()
        if not username:
            return self.user.pk
        grantee = get_user_model().objects.filter(username=username, is_active=True).first()
        if grantee is None:
            raise ValidationError("No active user has this username.", code="unknown_user")
        return grantee.pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            if ends <= starts:
                self.add_error("ends_at", "The end must be after the start.")
            elif ends <= timezone.now():
                self.add_error("ends_at", "The end must be in the future.")
        return data
