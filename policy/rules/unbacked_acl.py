"""Unbacked ACL: every Proxmox ACL entry is backed by a Steward record.

Backed are: the ``role`` on ``/vms/<vmid>`` for the guest's current owner and custodian
(as ``policy.rights.pve_userid`` maps them), entries Steward records in
``RightsAssignment``, entries of ``ignore_ugids`` (``root@pam`` by default), and
entries of Steward's own API token and its user. Every other entry is a finding
``acl:<path>:<ugid>:<role>``, on the guest for ``/vms/<vmid>`` paths and on the cluster
otherwise; remedy: delete the entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from policy.facts import ClusterFacts, VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind
from policy.rights import DEFAULT_REALM, STEWARD_ROLE, pve_userid
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action

PARAMS = {
    "realm": Param(str, DEFAULT_REALM, "Proxmox realm of Steward's users (alice -> alice@pve)."),
    "role": Param(str, STEWARD_ROLE, "The role Steward gives owners and custodians."),
    "ignore_ugids": Param(list, ["root@pam"], "Users, groups or tokens whose entries are fine."),
}


def evaluate_vm(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    return NONE  # ACL entries are cluster data; evaluate_cluster attributes them to guests


def evaluate_cluster(
    cluster: ClusterFacts, params: Params, ctx: RuleContext, vms: Mapping[int, VmFacts]
) -> list[Finding]:
    """``vms`` maps vmids of this cluster's guests in the policy's scope to their facts;
    an entry on ``/vms/<vmid>`` of a guest out of scope is not this policy's business."""
    usernames, realm, role = ctx.fleet.usernames, params["realm"], params["role"]
    ignored = set(params["ignore_ugids"])
    if cluster.token_id:
        ignored |= {cluster.token_id, cluster.token_id.split("!", 1)[0]}
    policy = ctx.policy
    found: list[Finding] = []
    for entry in cluster.acl_entries:
        if entry.ugid in ignored or (entry.path, entry.ugid, entry.roleid) in cluster.backed_acls:
            continue
        vm = None
        if entry.path.startswith("/vms/") and entry.path[5:].isdigit():
            vm = vms.get(int(entry.path[5:]))
            if vm is None:
                continue
            if entry.roleid == role:
                holders = {usernames.get(vm.owner_id), usernames.get(vm.custodian_id)}
                if entry.ugid in {pve_userid(name, realm) for name in holders if name}:
                    continue
        found.append(
            Finding(
                policy.id,
                policy.name,
                policy.kind,
                policy.mode,
                cluster.id,
                vm.id if vm else None,
                vm.vmid if vm else None,
                f"acl:{entry.path}:{entry.ugid}:{entry.roleid}",
                f"ACL {entry.path} gives {entry.ugid} the role {entry.roleid}, "
                "which no Steward record backs",
                {
                    "node": vm.node if vm else "",
                    "path": entry.path,
                    "ugid": entry.ugid,
                    "ugid_type": entry.ugid_type,
                    "roleid": entry.roleid,
                    "propagate": entry.propagate,
                },
            )
        )
    return found


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    e = finding.evidence
    return (
        action(
            finding,
            ActionKind.ACL_DELETE,
            f"Delete ACL {e['path']} {e['ugid']} {e['roleid']}",
            path=e["path"],
            ugid=e["ugid"],
            ugid_type=e["ugid_type"],
            roleid=e["roleid"],
            propagate=e["propagate"],
        ),
    )


RULE = Rule(
    "unbacked_acl",
    PARAMS,
    evaluate_vm,
    remedies,
    evaluate_cluster,
    candidates=lambda vms, params, ctx: [],
)
