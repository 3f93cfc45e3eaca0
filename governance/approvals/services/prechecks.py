"""Checks a request must pass against inventory and policy before it is stored.

Registered per kind in ``VALIDATORS`` and run by ``request_submit``/``request_update``
before anything is written, so every refusal is a ``ValidationError`` on the parameter
concerned and no request exists afterwards.

Policy logic is never restated here: the guest the request would produce (the VM after
the move, the clone's source with one more clone, a new guest described by the request)
is expressed as policy facts and handed to ``policy.evaluation.in_scope`` and
``evaluate_policy``; a finding of the rule's key is the refusal.

- host pinning: the target node of migrate, provision, import and clone must be allowed by
  every enabled host-pinning policy whose scope covers the guest (a new guest is scoped by
  the cluster, team and classification the request names);
- storage classes: provision, import and a cross-cluster migration write to approved
  storage only; an export backup goes to external storage only, an export copy to
  approved or external storage of the other cluster;
- copy limits: a clone, an export copy to another cluster (made from a temporary full
  clone) or a provision from a template may not take its source past ``max_clones``,
  and a clone made a template is refused where ``no_templates`` holds (the rule's
  ``template`` finding on the source with one more template made from it);
- leases: a VM whose lease has ended is not cloned, migrated or exported;
- a guest with snapshots is not moved to another cluster (Proxmox refuses it).

- quota: provision, import, clone and a transfer to another team may not take the team
  over its quota (``governance.approvals.services.quota``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.accounts.models import Team
from governance.approvals.execution.kinds.export_copy import clone_storage_for
from governance.approvals.services.quota import quota_check
from governance.approvals.services.requests import validator
from governance.core.permissions import restrict
from governance.ownership.selectors import is_lease_expired
from inventory.models import Cluster, Node, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from inventory.models.ledgers import CopyKind
from inventory.selectors.ledgers import copies_for
from policy.evaluation import evaluate_policy, in_scope
from policy.facts import ClusterFacts, FleetFacts, VmFacts, facts_load
from policy.models import Policy, PolicyKind
from policy.rules import PolicySpec

#: Storage classes an export copy on another cluster may be written to.
EXPORT_COPY_CLASSES = (StorageClass.APPROVED, StorageClass.EXTERNAL)


def _cluster_facts(cluster: Cluster) -> ClusterFacts:
    """The parts of a cluster the pre-checked rules read (nodes, storage classes); HA and
    ACL facts are left empty because no pre-check asks about them."""
    nodes = Node.objects.filter(cluster=cluster, gone_since__isnull=True)
    storages = Storage.objects.filter(cluster=cluster, gone_since__isnull=True)
    return ClusterFacts(
        id=cluster.pk,
        name=cluster.name,
        pve_version="",
        token_id="",
        nodes=dict(nodes.values_list("name", "status")),
        storage_class=dict(storages.values_list("name", "storage_class")),
        backup_jobs=(),
        ha_resources={},
        ha_rules=(),
        ha_groups={},
        acl_entries=(),
        backed_acls=frozenset(),
    )


def _existing(vm: VirtualMachine) -> VmFacts:
    loaded = facts_load(vm_ids=[vm.pk]).vms
    if not loaded:
        raise ValidationError({"vm": "This VM no longer exists in Proxmox."})
    return loaded[0]


def _new_guest(cluster: Cluster, parameters: dict[str, Any]) -> VmFacts:
    """A guest that does not exist yet, as far as a policy scope can see it: its cluster,
    team and classification (no id, pool or tags, so scopes naming those miss it)."""
    team = parameters.get("team")
    return VmFacts(
        id=0,
        cluster_id=cluster.pk,
        vmid=0,
        name=str(parameters.get("name") or ""),
        kind="qemu",
        node="",
        status="stopped",
        tags=frozenset(),
        pool="",
        template=False,
        lock="",
        hastate="",
        classification=str(parameters.get("classification") or ""),
        vmgenid="",
        smbios_uuid="",
        has_rng=False,
        config_digest="",
        first_seen=timezone.now(),
        last_running=None,
        team_id=int(team) if team else None,
    )


def _refusals(kind: str, guest: VmFacts, cluster: Cluster, rule_key: str) -> list[str]:
    """Messages of the ``rule_key`` findings each enabled ``kind`` policy raises on
    ``guest`` (placed on ``cluster``), for the policies whose scope covers it."""
    policies = [PolicySpec.of(p) for p in Policy.objects.filter(kind=kind, enabled=True)]
    if not policies:
        return []
    teams = Team.objects.filter(pk=guest.team_id) if guest.team_id else Team.objects.none()
    now = timezone.now()
    facts = FleetFacts(
        read_at=now,
        vms=(guest,),
        clusters={cluster.pk: _cluster_facts(cluster)},
        identity_clashes={},
        usernames={},
        team_slugs=dict(teams.values_list("pk", "slug")),
        quarantines={},
        open_keys={},
    )
    messages = []
    for policy in policies:
        scoped = in_scope(policy.scope, facts)
        if not scoped:
            continue
        for finding in evaluate_policy(policy, facts, now, scoped):
            if finding.rule_key == rule_key:
                messages.append(f'Policy "{policy.name}": {finding.summary}.')
    return messages


def _node(cluster: Cluster, name: Any, field: str) -> str:
    name = str(name or "")
    if not Node.objects.filter(cluster=cluster, name=name, gone_since__isnull=True).exists():
        raise ValidationError({field: f"{cluster.name} has no live node {name or '(none)'}."})
    return name


def _pinned(guest: VmFacts, cluster: Cluster, node: str, field: str) -> None:
    placed = guest._replace(cluster_id=cluster.pk, node=node)
    if refused := _refusals(PolicyKind.HOST_PINNING, placed, cluster, "node"):
        raise ValidationError({field: refused})


def _storage(cluster: Cluster, name: Any, storage_class: str, field: str) -> None:
    found = Storage.objects.filter(cluster=cluster, name=str(name or ""), gone_since__isnull=True)
    if not found.filter(storage_class=storage_class).exists():
        label = StorageClass(storage_class).label.lower()
        raise ValidationError(
            {field: f"{name or '(none)'} is not {label} storage of {cluster.name}."}
        )


def _lease_current(vm: VirtualMachine, what: str) -> None:
    if is_lease_expired(vm=vm):
        raise ValidationError(
            {
                "vm": f"The lease of {vm.name or vm.vmid} has ended; it cannot be {what}. "
                "Renew the lease first."
            }
        )


def _copy_allowed(source: VirtualMachine, field: str) -> None:
    guest = _existing(source)
    one_more = guest._replace(clones=guest.clones + 1)
    cluster = source.cluster
    if refused := _refusals(PolicyKind.COPY_LIMITS, one_more, cluster, "clones"):
        raise ValidationError({field: refused})


def _template_allowed(source: VirtualMachine, field: str) -> None:
    guest = _existing(source)
    one_more = guest._replace(templates=guest.templates + 1)
    if refused := _refusals(PolicyKind.COPY_LIMITS, one_more, source.cluster, "template"):
        raise ValidationError({field: ["No template may be made from this VM.", *refused]})


@validator("migrate")
def migrate_check(
    *, requester: Any, vm: VirtualMachine, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    _lease_current(vm, "migrated")
    target_cluster = cluster
    if name := parameters.get("target_cluster"):
        target_cluster = Cluster.objects.filter(name=name, enabled=True).first()
        if target_cluster is None:
            raise ValidationError({"target_cluster": f"No registered cluster {name}."})
        _storage(
            target_cluster,
            parameters.get("target_storage"),
            StorageClass.APPROVED,
            "target_storage",
        )
        _without_snapshots(vm)
    node = _node(target_cluster, parameters.get("target_node"), "target_node")
    _pinned(_existing(vm), target_cluster, node, "target_node")
    return parameters


def _without_snapshots(vm: VirtualMachine) -> None:
    """Proxmox's remote migration fails its task on a guest with snapshots ("remote
    migration with snapshots not supported yet"): say so before anyone approves it."""
    snapshots = copies_for(vm, include_deleted=False).filter(kind=CopyKind.SNAPSHOT)
    names = sorted(snapshots.values_list("name", flat=True))
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ValidationError(
            {
                "vm": f"{vm.name or vm.vmid} has snapshots ({shown}); Proxmox cannot move a "
                "guest with snapshots to another cluster. Delete them first, or request an "
                "export copy instead."
            }
        )


def _new_guest_check(cluster: Cluster, parameters: dict[str, Any]) -> None:
    node = _node(cluster, parameters.get("node"), "node")
    _storage(cluster, parameters.get("storage"), StorageClass.APPROVED, "storage")
    _pinned(_new_guest(cluster, parameters), cluster, node, "node")


@validator("provision")
def provision_check(
    *, requester: Any, vm: VirtualMachine | None, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    _new_guest_check(cluster, parameters)
    if template_id := parameters.get("template"):
        template = VirtualMachine.objects.filter(
            pk=template_id, cluster=cluster, gone_since__isnull=True
        ).first()
        if template is None:
            raise ValidationError({"template": "No such template in this cluster."})
        _copy_allowed(template, "template")
    quota_check(kind="provision", vm=None, cluster=cluster, parameters=parameters, field="team")
    return parameters


@validator("import")
def import_check(
    *, requester: Any, vm: VirtualMachine | None, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    _new_guest_check(cluster, parameters)
    quota_check(kind="import", vm=None, cluster=cluster, parameters=parameters, field="team")
    return parameters


@validator("clone")
def clone_check(
    *, requester: Any, vm: VirtualMachine, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    _lease_current(vm, "cloned")
    node = _node(cluster, parameters.get("target_node"), "target_node")
    _copy_allowed(vm, "vm")
    if parameters.get("template"):
        _template_allowed(vm, "template")
    # The clone is a new guest of the source's team and classification.
    guest = _existing(vm)._replace(id=0, pool="", tags=frozenset(), clones=0)
    _pinned(guest, cluster, node, "target_node")
    quota_check(kind="clone", vm=vm, cluster=cluster, parameters=parameters, field="vm")
    return parameters


def _copyable(vm: VirtualMachine) -> None:
    """What PVE refuses before the export's full clone starts, said before submission
    (an HA-managed VM can be cloned: only the clone moves, and it is outside HA)."""
    if vm.lock:
        raise ValidationError(
            {
                "vm": f"{vm.name or vm.vmid} is locked ({vm.lock}); Proxmox does not clone a "
                "locked VM. Submit the export once the lock is gone (an administrator can "
                "remove a stale one)."
            }
        )
    if clone_storage_for(vm) is None:
        raise ValidationError(
            {
                "vm": f"{vm.cluster.name} has no approved storage on "
                f"{vm.node.name if vm.node else 'its node'} for the "
                "temporary full clone an export copy is made from. Ask an admin to classify "
                "one as approved."
            }
        )


@validator("export")
def export_check(
    *, requester: Any, vm: VirtualMachine, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    """A backup goes to external storage of the VM's cluster. A copy (made from a full
    clone of the VM, which must be unlocked, onto approved storage of its cluster, named
    in ``clone_storage``; copy limits must allow one more copy) goes to another
    registered, enabled cluster the requester may see, onto its approved or external
    storage, on a node host pinning allows for the VM (whose classification and team the
    copy keeps)."""
    _lease_current(vm, "exported")
    if parameters.get("method", "backup") != "cluster":
        _storage(cluster, parameters.get("storage"), StorageClass.EXTERNAL, "storage")
        return parameters
    name = str(parameters.get("target_cluster") or "")
    visible = restrict(Cluster.objects.filter(enabled=True), requester).exclude(pk=cluster.pk)
    target = visible.filter(name=name).first()
    if target is None:
        raise ValidationError(
            {"target_cluster": f"No other registered, enabled cluster {name or '(none)'}."}
        )
    storage = str(parameters.get("target_storage") or "")
    if not Storage.objects.filter(
        cluster=target, name=storage, gone_since__isnull=True, storage_class__in=EXPORT_COPY_CLASSES
    ).exists():
        raise ValidationError(
            {
                "target_storage": f"{storage or '(none)'} is not approved or external storage "
                f"of {target.name}."
            }
        )
    node = _node(target, parameters.get("target_node"), "target_node")
    _pinned(_existing(vm), target, node, "target_node")
    _copyable(vm)
    # The export's clone is counted as one more copy of the VM while it exists.
    _copy_allowed(vm, "vm")
    parameters["clone_storage"] = clone_storage_for(vm)
    return parameters


@validator("ownership_transfer")
def ownership_transfer_check(
    *, requester: Any, vm: VirtualMachine, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    quota_check(
        kind="ownership_transfer", vm=vm, cluster=cluster, parameters=parameters, field="team"
    )
    return parameters
