"""Evaluating policies over the fleet: a pure function of plain data.

``evaluate_fleet(policies, facts, exemptions, now)`` returns every finding of every
enabled policy, each with the remedies enforce mode would take and ``exempt`` set when
an active exemption covers it. Nothing here reads the database or Proxmox, so the
result depends only on its arguments (the reconciler, the dry run and the benchmark all
call it the same way).

Scope semantics: a guest is in a policy's scope when it matches every non-empty scope
key, and a key matches when any of its values does (clusters by name, pools, tags,
classifications, teams by slug, vms by Steward id). An empty scope matches nothing (the
validation refuses it before it could be saved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from policy.facts import FleetFacts, VmFacts, gc_paused
from policy.findings import Finding
from policy.rules import RULES, PolicySpec, RuleContext, clean_params
from policy.rules.pinning_conflicts import pinning_contradictions

SCOPE_KEYS = ("clusters", "pools", "tags", "classifications", "teams", "vms")

Exemptions = Mapping[tuple[int, int], frozenset[str]]


def scope_is_empty(scope: Mapping[str, Sequence[object]] | None) -> bool:
    return not any((scope or {}).get(key) for key in SCOPE_KEYS)


def in_scope(scope: Mapping[str, Sequence[object]], facts: FleetFacts) -> list[VmFacts]:
    """The guests of ``facts`` the scope selects, in facts order (one pass per key)."""
    if scope_is_empty(scope):
        return []
    vms: Iterable[VmFacts] = facts.vms
    if ids := scope.get("vms"):
        wanted = {int(i) for i in ids}
        vms = [vm for vm in vms if vm.id in wanted]
    if names := scope.get("clusters"):
        clusters = {c.id for c in facts.clusters.values() if c.name in set(names)}
        vms = [vm for vm in vms if vm.cluster_id in clusters]
    if pools := scope.get("pools"):
        pool_set = set(pools)
        vms = [vm for vm in vms if vm.pool in pool_set]
    if classes := scope.get("classifications"):
        class_set = set(classes)
        vms = [vm for vm in vms if vm.classification in class_set]
    if tags := scope.get("tags"):
        tag_set = frozenset(tags)
        vms = [vm for vm in vms if not tag_set.isdisjoint(vm.tags)]
    if slugs := scope.get("teams"):
        teams = {pk for pk, slug in facts.team_slugs.items() if slug in set(slugs)}
        vms = [vm for vm in vms if vm.team_id in teams]
    return list(vms)


def evaluate_policy(
    policy: PolicySpec,
    facts: FleetFacts,
    now: datetime,
    scoped: list[VmFacts] | None = None,
) -> list[Finding]:
    """The findings of one policy (enabled or not), remedies attached, none exempt yet;
    ``scoped`` may pass ``in_scope(policy.scope, facts)`` when the caller has it."""
    rule = RULES[policy.kind]
    params, _ = clean_params(policy.kind, policy.parameters)
    ctx = RuleContext(policy, facts, now)
    if scoped is None:
        scoped = in_scope(policy.scope, facts)
    evaluate = rule.evaluate
    found: list[Finding] = []
    candidates = scoped if rule.candidates is None else rule.candidates(scoped, params, ctx)
    for vm in candidates:
        hits = evaluate(vm, params, ctx)
        if hits:
            found.extend(hits)
    if rule.evaluate_cluster is not None:
        by_cluster: dict[int, dict[int, VmFacts]] = {cid: {} for cid in facts.clusters}
        for vm in scoped:
            by_cluster[vm.cluster_id][vm.vmid] = vm
        names = set(policy.scope.get("clusters") or ())
        for cluster in facts.clusters.values():
            if names and cluster.name not in names:
                continue
            found.extend(rule.evaluate_cluster(cluster, params, ctx, by_cluster[cluster.id]))
    remedies = rule.remedies
    for finding in found:
        finding.remedies = remedies(finding, params)
    return found


def evaluate_fleet(
    policies: Iterable[PolicySpec], facts: FleetFacts, exemptions: Exemptions, now: datetime
) -> list[Finding]:
    """Every finding of every enabled policy; exempt ones marked (and kept: they are
    reported as waived, never remediated)."""
    with gc_paused():
        return _evaluate_fleet(policies, facts, exemptions, now)


def _evaluate_fleet(
    policies: Iterable[PolicySpec], facts: FleetFacts, exemptions: Exemptions, now: datetime
) -> list[Finding]:
    findings: list[Finding] = []
    policies = list(policies)  # read twice: the contradiction check below looks again
    # Policies often share a scope ("every sensitive VM"): select it once.
    scopes: dict[tuple, list[VmFacts]] = {}
    for policy in policies:
        if not policy.enabled:
            continue
        key = _scope_key(policy)
        if key not in scopes:
            scopes[key] = in_scope(policy.scope, facts)
        for finding in evaluate_policy(policy, facts, now, scopes[key]):
            keys = exemptions.get((finding.policy_id, finding.vm_id)) if finding.vm_id else None
            if keys and ("" in keys or finding.rule_key in keys):
                finding.exempt = True
            findings.append(finding)
    # Two pinning policies with no common node on one guest: one finding, no remedy.
    return pinning_contradictions(policies, facts, findings, now, lambda p: scopes[_scope_key(p)])


def _scope_key(policy: PolicySpec) -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in policy.scope.items() if v))
