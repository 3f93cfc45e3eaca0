"""Host pinning: a guest runs only on ``allowed_nodes``.

Findings: ``node`` (the guest sits on a node outside the set; remedy: migrate to the
first allowed online node, online if it runs) and ``ha`` (an HA-managed guest whose HA
configuration does not keep it on allowed nodes; remedy: an HA node-affinity rule on
PVE 9 or a restricted group on PVE 8, written by the executor).
"""

from __future__ import annotations

from policy.facts import ClusterFacts, VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, vm_finding

PARAMS = {
    "allowed_nodes": Param(list, [], "Node names the guests may run on.", required=True),
    "ha_pin": Param(bool, True, "Also pin HA-managed guests through HA rules or groups."),
}


def _ha_pinned(cluster: ClusterFacts, sid: str, group: str, allowed: frozenset[str]) -> bool:
    for rule in cluster.ha_rules:
        if (
            not rule.disabled
            and rule.type == "node-affinity"
            and rule.strict
            and sid in rule.resources
            and rule.nodes
            and rule.nodes <= allowed
        ):
            return True
    pinned = cluster.ha_groups.get(group)
    return bool(pinned and pinned.restricted and pinned.nodes and pinned.nodes <= allowed)


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    allowed = params["allowed_nodes"]
    cluster = ctx.fleet.clusters[vm.cluster_id]
    ha = cluster.ha_resources.get(vm.vmid)
    found = NONE
    if vm.node and vm.node not in allowed:
        online = sorted(n for n in allowed if cluster.nodes.get(n) == "online")
        found = [
            vm_finding(
                ctx,
                vm,
                "node",
                f"{vm.name or vm.vmid} runs on {vm.node}, outside the allowed nodes "
                f"{', '.join(sorted(allowed))}",
                allowed=sorted(allowed),
                target=online[0] if online else "",
                online=vm.status == "running",
                ha_sid=ha.sid if ha else "",
            )
        ]
    if ha is not None and params["ha_pin"]:
        allowed_set = frozenset(allowed)
        if not _ha_pinned(cluster, ha.sid, ha.group, allowed_set):
            found = [
                *found,
                vm_finding(
                    ctx,
                    vm,
                    "ha",
                    f"HA may move {vm.name or vm.vmid} outside the allowed nodes: no strict "
                    "node-affinity rule or restricted group keeps it there",
                    allowed=sorted(allowed),
                    ha_sid=ha.sid,
                    ha_group=ha.group,
                    pve_version=cluster.pve_version,
                ),
            ]
    return found


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    evidence = finding.evidence
    if finding.rule_key == "ha":
        return (
            action(
                finding,
                ActionKind.HA_PIN,
                f"Pin {evidence['ha_sid']} to {', '.join(evidence['allowed'])} through HA",
                sid=evidence["ha_sid"],
                nodes=list(evidence["allowed"]),
            ),
        )
    if finding.rule_key == "node" and evidence.get("target"):
        how = "live-migrate" if evidence["online"] else "migrate"
        return (
            action(
                finding,
                ActionKind.MIGRATE,
                f"{how} from {evidence['node']} to {evidence['target']}",
                target=evidence["target"],
                online=bool(evidence["online"]),
            ),
        )
    return ()


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    allowed = frozenset(params["allowed_nodes"])
    ha = set()
    if params["ha_pin"]:
        ha = {(c.id, vmid) for c in ctx.fleet.clusters.values() for vmid in c.ha_resources}
    if not ha:
        return [vm for vm in vms if vm.node not in allowed]
    return [vm for vm in vms if vm.node not in allowed or (vm.cluster_id, vm.vmid) in ha]


RULE = Rule("host_pinning", PARAMS, evaluate, remedies, candidates=candidates)
