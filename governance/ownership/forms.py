"""Forms of the ownership pages: the list's filters and the assignment forms.

Forms only parse and look things up; every rule about who may own what (an inactive
user, a transfer to oneself, a claim on an owned VM) is the services' to enforce, so a
page and the API refuse the same input with the same message.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from governance.accounts.models import Team
from governance.ownership.lists import OWNERSHIP_SORTS, OwnershipFilters
from governance.ownership.models import OwnershipRule
from inventory.forms.guests import VmFilterForm
from inventory.models import Classification, Cluster
from inventory.selectors.guests import VM_DEFAULT_SORT

_YES = [("", "any"), ("yes", "yes"), ("no", "no")]


def _flag(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class OwnershipFilterForm(VmFilterForm):
    """Inventory's VM filters plus owner, team, lease and "owner left"."""

    owner = forms.CharField(
        required=False, max_length=150, help_text='A username, or "none" for unowned'
    )
    team = forms.CharField(required=False, max_length=100, help_text='A team slug, or "none"')
    owned = forms.ChoiceField(required=False, choices=_YES)
    owner_left = forms.ChoiceField(
        label="Owner left", required=False, choices=[("", "any"), ("yes", "yes")]
    )
    lease = forms.ChoiceField(
        required=False,
        choices=[("", "any"), ("expiring", "ends within 14 days"), ("expired", "expired")],
    )
    mine = forms.ChoiceField(
        label="Mine only", required=False, choices=[("", "no"), ("yes", "yes")]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in OWNERSHIP_SORTS for key in (name, f"-{name}")],
        widget=forms.HiddenInput,
    )

    def ownership_filters(self) -> OwnershipFilters:
        data: dict[str, Any] = self.cleaned_data
        return OwnershipFilters(
            owner=data["owner"].strip(),
            team=data["team"].strip(),
            owned=_flag(data["owned"]),
            owner_left=data["owner_left"] == "yes",
            lease=data["lease"],
            mine=data["mine"] == "yes",
        )

    def order(self) -> tuple[str, list[str]]:
        sort = self.cleaned_data.get("sort") or VM_DEFAULT_SORT
        fields = OWNERSHIP_SORTS[sort.removeprefix("-")]
        if sort.startswith("-"):
            return sort, [f"-{f}" for f in fields]
        return sort, list(fields)


class UsernameField(forms.CharField):
    """A username resolved to a user, active or not (the services refuse inactive ones)."""

    def clean(self, value: Any) -> Any:
        username = super().clean(value)
        if not username:
            return None
        user = get_user_model().objects.filter(username=username.strip()).first()
        if user is None:
            raise forms.ValidationError(f'There is no user "{username.strip()}".')
        return user


class AssignForm(forms.Form):
    """Who answers for the VMs from now on; at least one of owner, custodian or team.

    Empty fields keep what each VM has."""

    owner = UsernameField(required=False, max_length=150, help_text="Username")
    custodian = UsernameField(
        required=False, max_length=150, help_text="Username of the person responsible"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, to_field_name="slug"
    )
    lease_end = forms.DateField(
        label="Lease ends", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(name) for name in ("owner", "custodian", "team")):
            raise forms.ValidationError("Name an owner, a custodian or a team.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """The filled-in fields only: an empty field keeps what the VM has (the services'
        ``KEEP``), so assigning an owner to a team's VMs does not clear their team."""
        data = self.cleaned_data
        kept = {
            name: data[name]
            for name in ("owner", "custodian", "team", "lease_end")
            if data.get(name) is not None
        }
        return {**kept, "reason": data["reason"]}


class BulkAssignForm(AssignForm):
    """``target`` "selected" acts on the ticked ``vm`` ids, "all" on every match of the filter."""

    target = forms.ChoiceField(
        choices=[("selected", "The selected VMs"), ("all", "Every VM matching the filter")],
        widget=forms.RadioSelect,
        initial="selected",
    )

    def __init__(self, *args: Any, vm_ids: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vm_ids = vm_ids or []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("target") == "selected":
            if not self.vm_ids:
                raise forms.ValidationError("Select at least one VM, or choose every match.")
            if not all(str(pk).isdigit() for pk in self.vm_ids):
                raise forms.ValidationError("The selection is not valid.")
        return data


class ClassificationForm(forms.Form):
    prefix = "classify"
    classification = forms.ChoiceField(choices=Classification.choices)
    reason = forms.CharField(max_length=500)


class ReasonForm(forms.Form):
    """A free-text reason or comment, for claims, transfers and lease extensions."""

    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea({"rows": 2}))


class TransferOfferForm(ReasonForm):
    prefix = "offer"
    to_user = UsernameField(label="New owner", max_length=150, help_text="Username")
    to_team = forms.ModelChoiceField(
        label="Their team", queryset=Team.objects.order_by("name"), to_field_name="slug"
    )


class ClaimForm(ReasonForm):
    """Claim for one of the claimant's own teams (the service checks membership again)."""

    prefix = "claim"

    team = forms.ModelChoiceField(queryset=Team.objects.none(), to_field_name="slug")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(memberships__user=user).order_by("name")


class LeaseExtensionForm(forms.Form):
    prefix = "extension"
    until = forms.DateField(label="New lease end", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class RuleForm(forms.Form):
    """An ownership rule; ``service_kwargs`` feeds ``ownership_rule_create``/``_update``."""

    name = forms.CharField(max_length=100)
    priority = forms.IntegerField(min_value=0, initial=100, help_text="Lowest wins")
    enabled = forms.BooleanField(required=False, initial=True)
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.order_by("name"), required=False, to_field_name="name"
    )
    pool = forms.CharField(max_length=100, required=False)
    tag_pattern = forms.CharField(
        label="Tag pattern", max_length=100, required=False, help_text="Shell glob, e.g. web-*"
    )
    name_regex = forms.CharField(
        label="Name pattern", max_length=200, required=False, help_text="Regular expression"
    )
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), to_field_name="slug")
    owner = UsernameField(required=False, max_length=150, help_text="Username (optional)")
    allow_unmatched = forms.BooleanField(
        label="Meant for VMs that do not exist yet",
        required=False,
        help_text="Save even if the rule matches no VM today.",
    )

    @classmethod
    def initial_for(cls, rule: OwnershipRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "priority": rule.priority,
            "enabled": rule.enabled,
            "cluster": rule.cluster.name if rule.cluster else None,
            "pool": rule.pool,
            "tag_pattern": rule.tag_pattern,
            "name_regex": rule.name_regex,
            "team": rule.team.slug,
            "owner": rule.owner.get_username() if rule.owner else "",
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in (
                "name",
                "priority",
                "enabled",
                "cluster",
                "pool",
                "tag_pattern",
                "name_regex",
                "team",
                "owner",
            )
        }

    def unsaved_rule(self, rule: OwnershipRule | None = None) -> OwnershipRule:
        """The rule as the form describes it, for a dry run (never saved here)."""
        rule = OwnershipRule() if rule is None else copy(rule)
        for name, value in self.service_kwargs().items():
            setattr(rule, name, value.strip() if isinstance(value, str) else value)
        return rule
