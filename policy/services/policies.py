"""Saving policies (validated, versioned, audited), previewing them (dry run), and
importing a YAML file of them.

Every save: one transaction; the policy row locked; the document validated (refusals
say what to fix, see ``policy.validation``); ``version`` incremented and the whole
document kept as a ``PolicyVersion``; an audit event with before and after. A save that
changes nothing is not a new version. The dry run evaluates a document against the
current facts and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.audit.services import audit_record
from policy.evaluation import evaluate_policy, in_scope
from policy.facts import FleetFacts, exemptions_load, facts_load
from policy.findings import Action, Finding
from policy.models import Policy, PolicyMode, PolicyVersion, Violation
from policy.remediation.pending import removals_pending
from policy.rules import RULES, PolicySpec
from policy.services.notices import recipients_of
from policy.validation import document_clean, scope_queryset
from policy.yaml_io import document_of


def policy_save(
    *,
    actor: Any,
    document: dict[str, Any],
    policy: Policy | None = None,
    comment: str = "",
) -> Policy:
    """Create (``policy`` None) or change a policy from ``document``; ``ValidationError``
    when the document is refused."""
    now = timezone.now()
    actor = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        if policy is not None:
            policy = Policy.objects.select_for_update().get(pk=policy.pk)
        cleaned = document_clean(document, policy_id=policy.pk if policy else None)
        before = document_of(policy) if policy else None
        if before == cleaned:
            return policy
        if policy is None:
            policy = Policy(created_by=actor, created_at=now, version=0)
        for name, value in cleaned.items():
            setattr(policy, name, value)
        policy.version += 1
        policy.updated_by, policy.updated_at = actor, now
        policy.save()
        PolicyVersion.objects.create(
            policy=policy,
            version=policy.version,
            document=cleaned,
            changed_by=actor,
            changed_at=now,
            comment=comment,
        )
        audit_record(
            actor=actor,
            action="policy.created" if before is None else "policy.changed",
            target=policy,
            before=before,
            after={**cleaned, "version": policy.version, "comment": comment},
        )
    return policy


@dataclass(frozen=True)
class VmOutcome:
    """A guest the previewed policy finds violating, with what it would find."""

    vm_id: int
    vmid: int
    name: str
    cluster: str
    node: str
    findings: tuple[Finding, ...]


@dataclass
class DryRun:
    """What saving a policy document would do, computed without writing anything.

    ``vms``: the guests that would violate (with their findings); ``cluster_findings``:
    findings about clusters (ACLs); ``remediations``: the actions enforce mode would run
    (listed for an audit-mode document too: ``would_remediate`` says whether they would
    really run); ``notify``: the owners and custodians who would be told of a new
    violation; ``new``/``still_open``/``would_resolve``: against this policy's open
    violations.
    """

    name: str
    kind: str
    mode: str
    in_scope: int
    vms: list[VmOutcome] = field(default_factory=list)
    cluster_findings: list[Finding] = field(default_factory=list)
    remediations: list[tuple[Finding, Action]] = field(default_factory=list)
    notify: list[Any] = field(default_factory=list)
    new: int = 0
    still_open: int = 0
    would_resolve: int = 0

    @property
    def would_remediate(self) -> bool:
        return self.mode == PolicyMode.ENFORCE

    @property
    def findings(self) -> list[Finding]:
        return [f for vm in self.vms for f in vm.findings] + self.cluster_findings


def policy_dry_run(
    *,
    document: dict[str, Any],
    policy: Policy | None = None,
    now: datetime | None = None,
    facts: FleetFacts | None = None,
) -> DryRun:
    """Preview ``document`` (as ``policy``'s next version, or as a new policy) against the
    current facts; ``ValidationError`` when the document would be refused."""
    cleaned = document_clean(document, policy_id=policy.pk if policy else None)
    return dry_run_cleaned(cleaned, policy=policy, now=now or timezone.now(), facts=facts)


def dry_run_cleaned(
    cleaned: dict[str, Any], *, policy: Policy | None, now: datetime, facts: FleetFacts | None
) -> DryRun:
    """``policy_dry_run`` of an already validated document; ``facts`` may be shared by
    several previews (an import)."""
    spec = PolicySpec(
        policy.pk if policy else 0,
        cleaned["name"],
        cleaned["kind"],
        cleaned["mode"],
        cleaned["scope"],
        cleaned["parameters"],
        True,
    )
    if facts is None:
        scoped = scope_queryset(cleaned["scope"]).values("pk")
        facts = facts_load(vm_ids=scoped, now=now, facets=RULES[spec.kind].facets)
    findings = evaluate_policy(spec, facts, now)
    removals_pending(findings)  # a removal Proxmox already holds is not run again
    exemptions = exemptions_load(now=now) if policy else {}
    by_vm: dict[int, list[Finding]] = {}
    result = DryRun(cleaned["name"], cleaned["kind"], cleaned["mode"], in_scope=0)
    open_keys = set()
    if policy is not None:
        open_keys = {
            (v.policy_id, v.cluster_id, v.vm_id, v.rule_key)
            for v in Violation.objects.filter(policy=policy, resolved_at__isnull=True)
        }
    for finding in findings:
        keys = exemptions.get((finding.policy_id, finding.vm_id)) if finding.vm_id else None
        if keys and ("" in keys or finding.rule_key in keys):
            continue
        if finding.vm_id is None:
            result.cluster_findings.append(finding)
        else:
            by_vm.setdefault(finding.vm_id, []).append(finding)
        if finding.remedies:
            result.remediations.append((finding, finding.remedies[0]))
        if finding.identity in open_keys:
            result.still_open += 1
        else:
            result.new += 1
    result.would_resolve = len(open_keys) - result.still_open
    vms = {vm.id: vm for vm in facts.vms}
    names = {c.id: c.name for c in facts.clusters.values()}
    result.in_scope = len(in_scope(cleaned["scope"], facts))
    for vm_id, found in by_vm.items():
        vm = vms[vm_id]
        result.vms.append(
            VmOutcome(vm.id, vm.vmid, vm.name, names.get(vm.cluster_id, ""), vm.node, tuple(found))
        )
    result.vms.sort(key=lambda o: (o.cluster, o.vmid))
    told = {u.pk: u for people in recipients_of(by_vm).values() for u in people if u.is_active}
    result.notify = sorted(told.values(), key=lambda u: u.username)
    return result
