"""The VM list's filters, shared by the page and the API so both answer alike."""

from __future__ import annotations

from typing import Any

from django import forms

from inventory.models import Classification, GuestKind
from inventory.selectors.guests import VM_DEFAULT_SORT, VM_SORTS, VmFilters
from inventory.selectors.os_releases import os_key_q

_YES_NO = [("", "any"), ("yes", "yes"), ("no", "no")]


def _flag(value: str) -> bool | None:
    return {"yes": True, "no": False, "true": True, "false": False}.get(value)


class VmFilterForm(forms.Form):
    """Every field is optional; an invalid value is an error, never silently ignored."""

    q = forms.CharField(
        label="Search", required=False, max_length=200, help_text="Name, vmid, MAC or SMBIOS UUID"
    )
    cluster = forms.CharField(required=False, max_length=100)
    node = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "any"),
            ("running", "running"),
            ("stopped", "stopped"),
            ("paused", "paused"),
            ("unknown", "unknown"),
        ],
    )
    tag = forms.CharField(required=False, max_length=100)
    classification = forms.ChoiceField(
        required=False, choices=[("", "any"), *Classification.choices]
    )
    kind = forms.ChoiceField(required=False, choices=[("", "any"), *GuestKind.choices])
    dormant = forms.ChoiceField(required=False, choices=_YES_NO)
    template = forms.ChoiceField(required=False, choices=_YES_NO)
    os = forms.CharField(
        label="OS",
        required=False,
        max_length=100,
        help_text="debian:12 as the guest agent reports it, or ostype:win7 from the config",
    )
    eol = forms.ChoiceField(label="End of life", required=False, choices=_YES_NO)
    gone = forms.ChoiceField(
        label="Destroyed", required=False, choices=[("", "no"), ("yes", "yes")]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in VM_SORTS for key in (name, f"-{name}")],
        widget=forms.HiddenInput,
    )

    def filters(self) -> VmFilters:
        data: dict[str, Any] = self.cleaned_data
        return VmFilters(
            cluster=data["cluster"].strip(),
            node=data["node"].strip(),
            status=data["status"],
            tag=data["tag"].strip(),
            classification=data["classification"],
            kind=data["kind"],
            dormant=_flag(data["dormant"]),
            template=_flag(data["template"]),
            os=data["os"].strip(),
            eol=_flag(data["eol"]),
            gone=data["gone"] == "yes",
            q=data["q"],
        )

    def clean_os(self) -> str:
        value = self.cleaned_data["os"].strip()
        if value and os_key_q(value) is None:
            raise forms.ValidationError("Write <os id>:<version>, or ostype:<ostype>.")
        return value

    def order(self) -> tuple[str, list[str]]:
        """The public sort key and its keyset order (descending flips every field)."""
        sort = self.cleaned_data.get("sort") or VM_DEFAULT_SORT
        fields = VM_SORTS[sort.removeprefix("-")]
        if sort.startswith("-"):
            return sort, [f"-{f}" for f in fields]
        return sort, list(fields)
