"""Serializers of the policy API. Policy writes carry a *document* (the YAML format's
shape) that ``policy.validation`` judges; serializers only check types."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from inventory.models import Classification
from policy.models import (
    Exemption,
    Policy,
    PolicyKind,
    PolicyMode,
    PolicyVersion,
    Quarantine,
    Remediation,
    Violation,
)


class ScopeSerializer(serializers.Serializer):
    """A VM is in scope when it matches every non-empty key; at least one is required."""

    clusters = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    pools = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    classifications = serializers.ListField(
        child=serializers.ChoiceField(choices=Classification.choices), required=False
    )
    teams = serializers.ListField(child=serializers.SlugField(), required=False)
    vms = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class PolicyDocumentSerializer(serializers.Serializer):
    """One policy as a document: what the editor, the API and the YAML files exchange."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=PolicyKind.choices)
    mode = serializers.ChoiceField(choices=PolicyMode.choices, default=PolicyMode.AUDIT)
    enabled = serializers.BooleanField(default=True)
    scope = ScopeSerializer()
    parameters = serializers.DictField(required=False, default=dict)

    def document(self) -> dict[str, Any]:
        return document_from(self.validated_data)


class PolicyWriteSerializer(PolicyDocumentSerializer):
    """A save: the document, a change note, and the token of its dry run."""

    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    preview_token = serializers.CharField(
        help_text="From POST /api/policy/dry-run/ for exactly this document; "
        "a save without a matching, recent dry run is refused."
    )


class DryRunRequestSerializer(serializers.Serializer):
    policy = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of the policy being changed, if any."
    )
    document = PolicyDocumentSerializer()


class PolicySerializer(serializers.ModelSerializer):
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Policy
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "mode",
            "enabled",
            "scope",
            "parameters",
            "version",
            "created_by",
            "created_at",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields


class PolicyVersionSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyVersion
        fields = ["version", "document", "changed_by", "changed_at", "comment"]
        read_only_fields = fields


class RemediationSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Remediation
        fields = [
            "id",
            "violation",
            "quarantine",
            "cluster",
            "vm",
            "action",
            "params",
            "description",
            "state",
            "dry_run",
            "attempts",
            "next_attempt_at",
            "upid",
            "log",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ViolationSerializer(serializers.ModelSerializer):
    policy_name = serializers.CharField(source="policy.name", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    vmid = serializers.IntegerField(source="vm.vmid", read_only=True, allow_null=True)

    class Meta:
        model = Violation
        fields = [
            "id",
            "policy",
            "policy_name",
            "cluster",
            "cluster_name",
            "vm",
            "vmid",
            "rule_key",
            "summary",
            "evidence",
            "first_detected",
            "last_seen",
            "resolved_at",
            "remediation_state",
        ]
        read_only_fields = fields


class ViolationDetailSerializer(ViolationSerializer):
    remediations = RemediationSerializer(many=True, read_only=True)

    class Meta(ViolationSerializer.Meta):
        fields = [*ViolationSerializer.Meta.fields, "remediations"]
        read_only_fields = fields


class QuarantineSerializer(serializers.ModelSerializer):
    lifted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Quarantine
        fields = [
            "id",
            "vm",
            "cause",
            "reason",
            "policy",
            "since",
            "applied_state",
            "verified_at",
            "lifted_at",
            "lifted_by",
        ]
        read_only_fields = fields


class ExemptionSerializer(serializers.ModelSerializer):
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Exemption
        fields = [
            "id",
            "policy",
            "vm",
            "rule_key",
            "until",
            "reason",
            "granted_by",
            "granted_at",
            "request_id",
            "revoked_at",
        ]
        read_only_fields = fields


def document_from(validated: dict[str, Any]) -> dict[str, Any]:
    """A validated ``PolicyDocumentSerializer`` payload as a document (empty scope keys gone)."""
    data = {key: validated[key] for key in PolicyDocumentSerializer().fields if key in validated}
    data["scope"] = {key: values for key, values in dict(data["scope"]).items() if values}
    data["parameters"] = dict(data.get("parameters") or {})
    return data


class _ActionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    vm = serializers.IntegerField(allow_null=True)
    vmid = serializers.IntegerField(allow_null=True)
    node = serializers.CharField()
    params = serializers.DictField()
    finding = serializers.CharField(help_text="The summary of the finding it answers.")


class _FindingSerializer(serializers.Serializer):
    rule_key = serializers.CharField()
    summary = serializers.CharField()
    evidence = serializers.DictField()


class _VmOutcomeSerializer(serializers.Serializer):
    vm = serializers.IntegerField()
    vmid = serializers.IntegerField()
    name = serializers.CharField()
    cluster = serializers.CharField()
    node = serializers.CharField()
    findings = _FindingSerializer(many=True)


class DryRunResultSerializer(serializers.Serializer):
    """What saving the document would do (``policy.services.DryRun``); nothing was changed."""

    name = serializers.CharField()
    kind = serializers.CharField()
    mode = serializers.CharField()
    in_scope = serializers.IntegerField(help_text="VMs the scope selects.")
    vms = _VmOutcomeSerializer(many=True, help_text="VMs that would violate.")
    cluster_findings = _FindingSerializer(many=True)
    remediations = _ActionSerializer(many=True)
    would_remediate = serializers.BooleanField(
        help_text="False in audit mode: the remediations would not run."
    )
    notify = serializers.ListField(
        child=serializers.CharField(), help_text="Usernames of the people who would be told."
    )
    new = serializers.IntegerField()
    still_open = serializers.IntegerField()
    would_resolve = serializers.IntegerField()
    preview_token = serializers.CharField(help_text="Send it with the save of this document.")


def _finding(finding: Any) -> dict[str, Any]:
    return {"rule_key": finding.rule_key, "summary": finding.summary, "evidence": finding.evidence}


def dry_run_data(result: Any) -> dict[str, Any]:
    """A ``DryRun`` as ``DryRunResultSerializer`` data (without the token)."""
    return {
        "name": result.name,
        "kind": result.kind,
        "mode": result.mode,
        "in_scope": result.in_scope,
        "vms": [
            {
                "vm": outcome.vm_id,
                "vmid": outcome.vmid,
                "name": outcome.name,
                "cluster": outcome.cluster,
                "node": outcome.node,
                "findings": [_finding(f) for f in outcome.findings],
            }
            for outcome in result.vms
        ],
        "cluster_findings": [_finding(f) for f in result.cluster_findings],
        "remediations": [
            {
                "kind": action.kind,
                "description": action.description,
                "vm": action.vm_id,
                "vmid": action.vmid,
                "node": action.node,
                "params": dict(action.params),
                "finding": finding.summary,
            }
            for finding, action in result.remediations
        ],
        "would_remediate": result.would_remediate,
        "notify": [person.username for person in result.notify],
        "new": result.new,
        "still_open": result.still_open,
        "would_resolve": result.would_resolve,
    }
