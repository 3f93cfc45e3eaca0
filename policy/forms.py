"""Forms of the policy pages: the policy editor, the YAML upload and the list filters.

Forms only parse: the editor turns its fields into a policy *document* (the same dict
the API takes and the YAML files hold) and every rule about what a valid policy is
(unknown nodes, an empty scope, parameters of the kind, contradicting pinning sets)
belongs to ``policy.validation``, so a page, the API and an import refuse the same
input with the same message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from django import forms

from inventory.models import Classification
from policy.models import (
    ActionKind,
    Policy,
    PolicyKind,
    PolicyMode,
    RemediationRunState,
    RemediationState,
)

# The scope keys of a policy document, in display order, with the editor's labels.
SCOPE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("clusters", "Clusters", "Cluster names, comma separated"),
    ("pools", "Pools", "Proxmox pool names, comma separated"),
    ("tags", "Tags", "Proxmox tags, comma separated"),
    ("teams", "Teams", "Team slugs, comma separated"),
    ("vms", "VMs", "Steward VM ids (the number in a VM page's address), comma separated"),
)
# Upper bound on an uploaded policy file; policies are small, a huge upload is a mistake.
MAX_YAML_BYTES = 512 * 1024


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _join(values: Any) -> str:
    return ", ".join(str(value) for value in values or [])


class PolicyForm(forms.Form):
    """One policy's fields; ``document()`` is what validation, dry run and save receive.

    Parameters are a YAML (or JSON, which is YAML) mapping, because their shape differs
    per kind and the same text goes into the exported files.
    """

    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    kind = forms.ChoiceField(choices=PolicyKind.choices)
    mode = forms.ChoiceField(
        choices=PolicyMode.choices,
        initial=PolicyMode.AUDIT,
        widget=forms.RadioSelect,
        help_text="Audit only records violations; enforce also remediates them in Proxmox.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    scope_clusters = forms.CharField(required=False, max_length=2000)
    scope_pools = forms.CharField(required=False, max_length=2000)
    scope_tags = forms.CharField(required=False, max_length=2000)
    scope_classifications = forms.MultipleChoiceField(
        label="Classifications",
        required=False,
        choices=Classification.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    scope_teams = forms.CharField(required=False, max_length=2000)
    scope_vms = forms.CharField(required=False, max_length=2000)
    parameters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
        help_text="A YAML mapping, e.g. <code>allowed_nodes: [node1, node2]</code>.",
    )
    comment = forms.CharField(
        label="Change note",
        required=False,
        max_length=500,
        help_text="Why this change; kept with the version.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label, help_text in SCOPE_KEYS:
            field = self.fields[f"scope_{key}"]
            field.label, field.help_text = label, help_text

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_scope_vms(self) -> list[int]:
        ids = []
        for part in _split(self.cleaned_data["scope_vms"]):
            if not part.isdigit():
                raise forms.ValidationError(f'"{part}" is not a VM id; give numbers like 42.')
            ids.append(int(part))
        return ids

    def clean_parameters(self) -> dict[str, Any]:
        text = self.cleaned_data["parameters"].strip()
        if not text:
            return {}
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise forms.ValidationError(f"Not valid YAML: {_yaml_problem(error)}") from error
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Parameters must be a mapping of names to values.")
        return value

    def document(self) -> dict[str, Any]:
        """The policy document these fields describe (call after ``is_valid``)."""
        data = self.cleaned_data
        scope: dict[str, list[Any]] = {
            "clusters": _split(data["scope_clusters"]),
            "pools": _split(data["scope_pools"]),
            "tags": _split(data["scope_tags"]),
            "classifications": list(data["scope_classifications"]),
            "teams": _split(data["scope_teams"]),
            "vms": data["scope_vms"],
        }
        return {
            "name": data["name"],
            "description": data["description"],
            "kind": data["kind"],
            "mode": data["mode"],
            "enabled": data["enabled"],
            "scope": {key: values for key, values in scope.items() if values},
            "parameters": data["parameters"],
        }

    @classmethod
    def initial_from(cls, policy: Policy) -> dict[str, Any]:
        """The editor's initial values for an existing policy."""
        scope = policy.scope or {}
        initial: dict[str, Any] = {
            "name": policy.name,
            "description": policy.description,
            "kind": policy.kind,
            "mode": policy.mode,
            "enabled": policy.enabled,
            "scope_classifications": list(scope.get("classifications", [])),
            "parameters": parameters_as_yaml(policy.parameters),
        }
        for key, _label, _help in SCOPE_KEYS:
            initial[f"scope_{key}"] = _join(scope.get(key))
        return initial


def parameters_as_yaml(parameters: dict[str, Any]) -> str:
    """Parameters as the editor shows them (block YAML, keys in their saved order)."""
    if not parameters:
        return ""
    return yaml.safe_dump(parameters, sort_keys=False, default_flow_style=None).strip()


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return problem


class PolicyImportForm(forms.Form):
    """A YAML file of policies as ``policy.yaml_io`` exports them."""

    file = forms.FileField(
        label="Policy file",
        help_text="YAML as exported from this page; at most 512 KiB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,text/yaml"}),
    )
    comment = forms.CharField(
        label="Change note", required=False, max_length=500, help_text="Kept with each version."
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_YAML_BYTES:
            raise forms.ValidationError("The file is larger than 512 KiB; split it up.")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("The file is not UTF-8 text.") from error


_ANY = [("", "any")]


class ViolationFilterForm(forms.Form):
    """Filters of the violation list; every field optional, an invalid value an error."""

    policy = forms.CharField(required=False, max_length=100, help_text="Policy name")
    state = forms.ChoiceField(
        required=False,
        initial="open",
        choices=[("open", "open"), ("resolved", "resolved"), ("all", "all")],
    )
    remediation = forms.ChoiceField(
        label="Remediation", required=False, choices=[*_ANY, *RemediationState.choices]
    )
    cluster = forms.CharField(required=False, max_length=100)
    team = forms.CharField(required=False, max_length=100, help_text="Team slug")
    q = forms.CharField(label="VM", required=False, max_length=200, help_text="Name or vmid")
    # The cycle a violation notice links to (``policy.services.notices.cycle_link``).
    detected = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def filters(self) -> dict[str, str]:
        """Non-empty filters (call after ``is_valid``); ``state`` defaults to open."""
        data = {
            key: value.isoformat() if key == "detected" else str(value).strip()
            for key, value in self.cleaned_data.items()
            if value
        }
        data.setdefault("state", "open")
        return data


class RemediationFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[*_ANY, *RemediationRunState.choices])
    action = forms.ChoiceField(required=False, choices=[*_ANY, *ActionKind.choices])
    cluster = forms.CharField(required=False, max_length=100)

    def filters(self) -> dict[str, str]:
        return {key: str(value).strip() for key, value in self.cleaned_data.items() if value}


@dataclass(frozen=True)
class ParameterDoc:
    name: str
    type: str
    default: str
    help: str
    required: bool


def parameter_reference() -> list[tuple[str, str, list[ParameterDoc]]]:
    """(kind value, kind label, its parameters) for every kind: the editor's reference."""
    from policy.rules import RULES

    reference = []
    for kind, label in PolicyKind.choices:
        docs = [
            ParameterDoc(
                name,
                _type_name(param.type),
                # JSON is YAML, and reads unambiguously in one line.
                "" if param.default in (None, [], "") else json.dumps(param.default),
                param.help,
                param.required,
            )
            for name, param in RULES[kind].params.items()
        ]
        reference.append((kind, label, docs))
    return reference


def _type_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return " | ".join(kind)
    return {int: "whole number", bool: "true/false", str: "text", list: "list"}.get(kind, "value")
