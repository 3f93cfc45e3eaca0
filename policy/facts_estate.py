"""The cluster-wide and estate-wide parts of the facts read (``policy.facts``): each
cluster's nodes, storage classes, backup jobs, HA state and ACLs, and identity clashes."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from operator import attrgetter

from django.db.models import Count, Q, QuerySet

from inventory.models import (
    AclEntry,
    BackupJob,
    Cluster,
    GuestNic,
    HAGroup,
    HAResource,
    HARule,
    Node,
    Storage,
    VirtualMachine,
)
from policy.fact_types import (
    AclFact,
    BackupJobFact,
    ClusterFacts,
    HaGroupFact,
    HaResourceFact,
    HaRuleFact,
    IdentityClash,
    VmFacts,
)
from policy.models import RightsAssignment


def clusters_load(cluster_ids: list[int], *, now: datetime) -> dict[int, ClusterFacts]:
    def by_cluster(queryset, *fields: str) -> dict[int, list[tuple]]:
        grouped: dict[int, list[tuple]] = defaultdict(list)
        for cid, *row in queryset.filter(cluster_id__in=cluster_ids).values_list(
            "cluster_id", *fields
        ):
            grouped[cid].append(tuple(row))
        return grouped

    nodes = by_cluster(Node.objects.filter(gone_since__isnull=True), "name", "status")
    storages = by_cluster(Storage.objects.filter(gone_since__isnull=True), "name", "storage_class")
    jobs = by_cluster(
        BackupJob.objects.all(),
        "job_id", "enabled", "storage", "selection", "vmids", "exclude", "pool",
    )  # fmt: skip
    ha_resources = by_cluster(HAResource.objects.all(), "sid", "vmid", "state", "group")
    ha_rules = by_cluster(
        HARule.objects.all(), "rule", "type", "nodes", "resources", "strict", "disabled"
    )
    ha_groups = by_cluster(HAGroup.objects.all(), "group", "nodes", "restricted")
    acls = by_cluster(AclEntry.objects.all(), "path", "ugid", "ugid_type", "roleid", "propagate")
    unexpired = RightsAssignment.objects.filter(Q(until__isnull=True) | Q(until__gt=now))
    backed = by_cluster(unexpired, "path", "ugid", "roleid")
    result = {}
    for cid, name, version, token_id in Cluster.objects.filter(pk__in=cluster_ids).values_list(
        "pk", "name", "pve_version", "token_id"
    ):
        result[cid] = ClusterFacts(
            id=cid,
            name=name,
            pve_version=version,
            token_id=token_id,
            nodes=dict(nodes.get(cid, ())),
            storage_class=dict(storages.get(cid, ())),
            backup_jobs=tuple(
                BackupJobFact(
                    job,
                    enabled,
                    storage,
                    selection,
                    frozenset(_ints(vmids)),
                    frozenset(_ints(exclude)),
                    pool,
                )
                for job, enabled, storage, selection, vmids, exclude, pool in jobs.get(cid, ())
            ),
            ha_resources={
                vmid: HaResourceFact(sid, vmid, state, group)
                for sid, vmid, state, group in ha_resources.get(cid, ())
                if vmid is not None
            },
            ha_rules=tuple(
                HaRuleFact(rule, kind, frozenset(nodes_), frozenset(resources), strict, disabled)
                for rule, kind, nodes_, resources, strict, disabled in ha_rules.get(cid, ())
            ),
            ha_groups={
                group: HaGroupFact(group, frozenset(_node_names(members)), restricted)
                for group, members, restricted in ha_groups.get(cid, ())
            },
            acl_entries=tuple(AclFact(*row) for row in acls.get(cid, ())),
            backed_acls=frozenset(backed.get(cid, ())),
        )
    return result


def _ints(values: object) -> list[int]:
    """JSON lists of vmids as stored by the sync; tolerates strings and junk."""
    if not isinstance(values, list):
        return []
    return [int(v) for v in values if str(v).isdigit()]


def _node_names(members: object) -> list[str]:
    """HA group/rule node lists may carry priorities (``node1:2``); keep the names."""
    if not isinstance(members, list):
        return []
    return [str(m).split(":", 1)[0] for m in members]


def identity_clashes(
    guests: QuerySet, whole_fleet: list[VmFacts] | None
) -> dict[int, tuple[IdentityClash, ...]]:
    """UUIDs and MACs shared by several live guests of the estate, per guest of ``guests``.

    GROUP BY ... HAVING queries find the shared values, so the cost follows the number of
    clashes, not the size of the fleet; when ``whole_fleet`` (every live guest) was just
    read, its UUIDs are counted from it instead of asking the database again.
    """
    live = VirtualMachine.objects.filter(gone_since__isnull=True).order_by()
    by_uuid: dict[str, list[int]] = defaultdict(list)
    if whole_fleet is not None:
        counts = Counter(map(attrgetter("smbios_uuid"), whole_fleet))
        shared = {uuid for uuid, n in counts.items() if n > 1 and uuid}
        if shared:
            for vm in whole_fleet:
                if vm.smbios_uuid in shared:
                    by_uuid[vm.smbios_uuid].append(vm.id)
    else:
        shared_uuids = (
            live.exclude(smbios_uuid="")
            .values("smbios_uuid")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("smbios_uuid")
        )
        for pk, uuid in live.filter(smbios_uuid__in=shared_uuids).values_list("pk", "smbios_uuid"):
            by_uuid[uuid].append(pk)
    # MACs on more than one NIC of any guest, live or gone: a walk of the MAC index with no
    # join. The superset is narrowed below: a MAC that stays on one live guest has no others.
    nics = GuestNic.objects.exclude(mac="").order_by()
    shared_macs = nics.values("mac").annotate(n=Count("mac")).filter(n__gt=1).values("mac")
    live_nics = nics.filter(vm__gone_since__isnull=True)
    by_mac: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for vm_id, key, mac in live_nics.filter(mac__in=shared_macs).values_list("vm_id", "key", "mac"):
        by_mac[mac].append((vm_id, key))
    clashing = {i for ids in by_uuid.values() for i in ids}
    clashing |= {i for holders in by_mac.values() for i, _ in holders}
    if not clashing:
        return {}
    wanted = set(guests.filter(pk__in=clashing).values_list("pk", flat=True))
    clashes: dict[int, list[IdentityClash]] = defaultdict(list)
    for uuid, ids in by_uuid.items():
        for pk in ids:
            if pk in wanted:
                others = tuple(sorted(i for i in ids if i != pk))
                clashes[pk].append(IdentityClash("uuid", "", uuid, others))
    for mac, holders in by_mac.items():
        for pk, key in holders:
            if pk in wanted:
                others = tuple(sorted({i for i, _ in holders if i != pk}))
                if others:
                    clashes[pk].append(IdentityClash("mac", key, mac, others))
    return {pk: tuple(items) for pk, items in clashes.items()}
