"""Host-pinning policies that contradict each other on a guest, found at evaluation time.

Saving a pinning policy refuses a contradiction among the guests both scopes hold then;
a later tag, classification, team or pool change can still put a guest under two enabled
pinning policies whose allowed nodes have no node in common. Each policy alone would then
move the guest to its own nodes, the other one back again, every cycle. Instead the
guest's pinning findings are replaced by ONE finding, ``contradiction``, filed under the
first of those policies by name, with no remedy: a person has to change a policy or the
guest. Its evidence lists every policy and its allowed nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from policy.facts import FleetFacts, VmFacts
from policy.findings import Finding
from policy.models import PolicyKind
from policy.rules.base import PolicySpec, RuleContext, vm_finding

CONTRADICTION = "contradiction"


def pinning_contradictions(
    policies: Sequence[PolicySpec],
    facts: FleetFacts,
    findings: list[Finding],
    now: datetime,
    scope_of: Callable[[PolicySpec], list[VmFacts]],
) -> list[Finding]:
    """``findings`` with the pinning findings of contradicted guests replaced by one
    ``contradiction`` finding each (unchanged, and cheap, with fewer than two enabled
    pinning policies)."""
    pinning = sorted(
        (p for p in policies if p.enabled and p.kind == PolicyKind.HOST_PINNING),
        key=lambda p: p.name,
    )
    if len(pinning) < 2:
        return findings
    allowed = [
        frozenset(str(n) for n in policy.parameters.get("allowed_nodes") or ())
        for policy in pinning
    ]
    # A node every pinning policy allows is common to any guest's set of them.
    if frozenset.intersection(*allowed):
        return findings
    members = [
        (policy, nodes, scope_of(policy)) for policy, nodes in zip(pinning, allowed, strict=True)
    ]
    # Only guests under two or more pinning policies can be contradicted: find them with
    # set intersections before looking at any guest one by one.
    ids = [{vm.id for vm in vms} for _, _, vms in members]
    shared: set[int] = set()
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            shared |= first & second
    if not shared:
        return findings
    under: dict[int, list[tuple[PolicySpec, frozenset[str]]]] = {}
    guests: dict[int, VmFacts] = {}
    for policy, nodes, vms in members:
        for vm in vms:
            if vm.id in shared:
                under.setdefault(vm.id, []).append((policy, nodes))
                guests[vm.id] = vm
    clashes = {
        vm_id: entries
        for vm_id, entries in under.items()
        if len(entries) > 1 and not frozenset.intersection(*(nodes for _, nodes in entries))
    }
    if not clashes:
        return findings
    kept = [
        f for f in findings if not (f.vm_id in clashes and f.policy_kind == PolicyKind.HOST_PINNING)
    ]
    for vm_id, entries in clashes.items():
        names = [p.name for p, _ in entries]
        both = "both" if len(names) == 2 else "all of them"
        kept.append(
            vm_finding(
                RuleContext(entries[0][0], facts, now),
                guests[vm_id],
                CONTRADICTION,
                f"contradicting policies {' and '.join(names)}: no node allowed by {both}; "
                "change one policy's allowed nodes or take the guest out of a scope",
                policies={p.name: sorted(nodes) for p, nodes in entries},
            )
        )
    return kept
