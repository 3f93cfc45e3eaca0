"""Identity conflicts: no two live guests share an SMBIOS UUID or a MAC address.

Findings: ``uuid`` and ``mac:<nic key>``, reported on every guest of the clash (which
copy is the impostor is a human decision, so there is no automatic remedy).
"""

from __future__ import annotations

from policy.facts import VmFacts
from policy.findings import Finding
from policy.rules.base import NONE, Params, Rule, RuleContext, no_remedies, vm_finding


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    clashes = ctx.fleet.identity_clashes.get(vm.id)
    if not clashes:
        return NONE
    found = []
    for clash in clashes:
        key = "uuid" if clash.what == "uuid" else f"mac:{clash.key}"
        label = "SMBIOS UUID" if clash.what == "uuid" else f"MAC of {clash.key}"
        found.append(
            vm_finding(
                ctx,
                vm,
                key,
                f"{label} {clash.value} is shared with {len(clash.others)} other guest(s)",
                value=clash.value,
                others=list(clash.others),
            )
        )
    return found


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    clashes = ctx.fleet.identity_clashes
    return [vm for vm in vms if vm.id in clashes]


RULE = Rule(
    "identity_conflicts",
    {},
    evaluate,
    no_remedies,
    candidates=candidates,
    facets=frozenset(("identity",)),
)
