"""Plain, immutable facts about the fleet, read from the database in a few big queries.

Stable interface: the rules (``policy.rules``) and ``policy.evaluation`` see only these
types, never models, so evaluation is a pure function tested without a database.

- ``VmFacts``: one live guest with what every rule needs (placement, config facts,
  ownership, open copies, rollbacks since the last patch confirmation, live clones).
- ``ClusterFacts``: one cluster's nodes, storage classes, backup jobs, HA state and ACL
  entries, and the ACL entries Steward backs (``RightsAssignment``).
- ``FleetFacts``: all of them, plus estate-wide identity conflicts, usernames, team
  slugs, open quarantines and the open violation keys of rules that remember
  (``dormancy_quarantine``).

The value types are ``NamedTuple``s: immutable, and cheap enough to build 100,000 of in
the benchmark's time budget. Datetimes are aware (UTC). ``facts_load`` is the benchmark's
"database read"; it reads live guests only (``gone_since`` null).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import NamedTuple

from django.db.models import Count, Field, Func, Max, Q, QuerySet
from django.utils import timezone

from governance.accounts.models import Team, User
from governance.ownership.models import Ownership
from inventory.models import (
    AclEntry,
    BackupJob,
    Cluster,
    Copy,
    GuestDevice,
    GuestDisk,
    GuestNic,
    HAGroup,
    HAResource,
    HARule,
    Lineage,
    LineageKind,
    Node,
    Rollback,
    Storage,
    VirtualMachine,
)
from policy.models import (
    Exemption,
    PatchConfirmation,
    Policy,
    Quarantine,
    RightsAssignment,
    Violation,
)

__all__ = [
    "AclFact",
    "BackupJobFact",
    "ClusterFacts",
    "CopyFact",
    "DeviceFact",
    "DiskFact",
    "FleetFacts",
    "HaGroupFact",
    "HaResourceFact",
    "HaRuleFact",
    "IdentityClash",
    "RollbackFact",
    "VmFacts",
    "exemptions_load",
    "facts_load",
    "gc_paused",
]


class DeviceFact(NamedTuple):
    """A passthrough or removable-media device (``inventory.GuestDevice``): ``usb0``...

    ``kind`` is a ``DeviceKind`` value; for ``cdrom`` the ``value`` is the media:
    ``none``, ``cdrom`` (the host's drive) or an ISO volume id ``storage:iso/x.iso``.
    """

    key: str
    kind: str
    value: str


class DiskFact(NamedTuple):
    """A disk (not a CD-ROM) of the current config and the storage it lives on."""

    key: str
    storage: str
    volume: str


class CopyFact(NamedTuple):
    """An existing snapshot or backup of the guest (``inventory.Copy``, open rows only)."""

    kind: str
    name: str
    storage: str
    storage_class: str
    node: str
    created_at: datetime
    vmstate: bool
    size: int


class RollbackFact(NamedTuple):
    """A rollback detected after the guest's last patch confirmation."""

    detected_at: datetime
    source: str
    snapshot_name: str
    task_upid: str


class VmFacts(NamedTuple):
    """One live guest. ``node`` is the node name ("" unknown); ``tags`` a frozenset;
    ``owner_id``/``custodian_id``/``team_id`` come from the current ownership (None when
    unowned); ``clones`` and ``templates`` count live guests made from this one;
    ``disk_storages`` names the storages of ``disks``."""

    id: int
    cluster_id: int
    vmid: int
    name: str
    kind: str
    node: str
    status: str
    tags: frozenset[str]
    pool: str
    template: bool
    lock: str
    hastate: str
    classification: str
    vmgenid: str
    smbios_uuid: str
    has_rng: bool
    config_digest: str
    first_seen: datetime
    last_running: datetime | None
    owner_id: int | None = None
    custodian_id: int | None = None
    team_id: int | None = None
    lease_end: date | None = None
    devices: tuple[DeviceFact, ...] = ()
    disks: tuple[DiskFact, ...] = ()
    copies: tuple[CopyFact, ...] = ()
    rollbacks: tuple[RollbackFact, ...] = ()
    patch_confirmed_at: datetime | None = None
    clones: int = 0
    templates: int = 0
    disk_storages: frozenset[str] = frozenset()


class BackupJobFact(NamedTuple):
    """A scheduled backup job; ``includes(vm)`` says whether it backs the guest up."""

    job_id: str
    enabled: bool
    storage: str
    selection: str
    vmids: frozenset[int]
    exclude: frozenset[int]
    pool: str

    def includes(self, vm: VmFacts) -> bool:
        if not self.enabled or vm.vmid in self.exclude:
            return False
        if self.selection == "all":
            return True
        if self.selection == "pool":
            return bool(self.pool) and vm.pool == self.pool
        return vm.vmid in self.vmids


class HaResourceFact(NamedTuple):
    sid: str
    vmid: int | None
    state: str
    group: str


class HaRuleFact(NamedTuple):
    """An HA rule of PVE 9; ``resources`` are sids (``vm:100``)."""

    rule: str
    type: str
    nodes: frozenset[str]
    resources: frozenset[str]
    strict: bool
    disabled: bool


class HaGroupFact(NamedTuple):
    group: str
    nodes: frozenset[str]
    restricted: bool


class AclFact(NamedTuple):
    path: str
    ugid: str
    ugid_type: str
    roleid: str
    propagate: bool


class ClusterFacts(NamedTuple):
    """One cluster. ``nodes`` maps live node names to their status; ``storage_class`` maps
    storage names to their class; ``backed_acls`` holds ``(path, ugid, roleid)`` of the
    entries Steward backs explicitly (``RightsAssignment``, not expired)."""

    id: int
    name: str
    pve_version: str
    token_id: str
    nodes: Mapping[str, str]
    storage_class: Mapping[str, str]
    backup_jobs: tuple[BackupJobFact, ...]
    ha_resources: Mapping[int, HaResourceFact]
    ha_rules: tuple[HaRuleFact, ...]
    ha_groups: Mapping[str, HaGroupFact]
    acl_entries: tuple[AclFact, ...]
    backed_acls: frozenset[tuple[str, str, str]]


class IdentityClash(NamedTuple):
    """An identity this guest shares with other live guests: ``what`` is ``uuid`` or
    ``mac``; ``key`` the NIC key for a MAC ("" for the UUID)."""

    what: str
    key: str
    value: str
    others: tuple[int, ...]


class FleetFacts(NamedTuple):
    """Everything evaluation reads. ``open_keys[policy_id][vm_id]`` holds the rule keys of
    that policy's open violations on the VM (only for rules that remember);
    ``quarantines[vm_id]`` is ``(quarantine_id, cause)`` of the open quarantine."""

    read_at: datetime
    vms: tuple[VmFacts, ...]
    clusters: Mapping[int, ClusterFacts]
    identity_clashes: Mapping[int, tuple[IdentityClash, ...]]
    usernames: Mapping[int, str]
    team_slugs: Mapping[int, str]
    quarantines: Mapping[int, tuple[int, str]]
    open_keys: Mapping[int, Mapping[int, frozenset[str]]]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Reading or evaluating 100,000 guests allocates hundreds of thousands of tuples; each
    allocation burst triggers collections that re-walk everything built so far (the facts
    themselves), which was a third to a half of the benchmark's time. Nothing built here
    forms cycles, so reference counting frees it all; collection resumes (if it was on)
    on exit.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Rule kinds whose evaluation looks at their own open violations (see dormancy_quarantine).
REMEMBERING_KINDS = ("dormancy_quarantine",)


def facts_load(
    *,
    cluster_id: int | None = None,
    vm_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> FleetFacts:
    """Read the facts of every live guest (or of one cluster, or of some guests: ids or a
    ``values("pk")`` queryset).

    Identity clashes are estate-wide whatever the filter: a UUID shared with a guest of
    another cluster is still a clash.
    """
    with gc_paused():
        return _facts_load(cluster_id=cluster_id, vm_ids=vm_ids, now=now)


def _facts_load(
    *, cluster_id: int | None, vm_ids: Iterable[int] | None, now: datetime | None
) -> FleetFacts:
    now = now or timezone.now()
    guests = VirtualMachine.objects.filter(gone_since__isnull=True)
    if cluster_id is not None:
        guests = guests.filter(cluster_id=cluster_id)
    if vm_ids is not None:
        # A queryset stays a subquery; anything else is a list of ids.
        guests = guests.filter(pk__in=vm_ids if isinstance(vm_ids, QuerySet) else list(vm_ids))
    everywhere = Cluster.objects.values_list("pk", flat=True)
    cluster_ids = [cluster_id] if cluster_id is not None else list(everywhere)
    clusters = _clusters_load(cluster_ids, now=now)
    node_names = dict(Node.objects.filter(cluster_id__in=cluster_ids).values_list("pk", "name"))

    # Child rows are read with the guest filter as a subquery (no id lists in Python).
    def child(model: type, *fields: str, **extra: object) -> Iterable[tuple]:
        rows = model.objects.filter(vm__in=guests.values("pk"), **extra)
        return rows.order_by().values_list("vm_id", *fields)

    devices: dict[int, list[DeviceFact]] = defaultdict(list)
    for vm_id, *row in child(GuestDevice, "key", "kind", "value"):
        devices[vm_id].append(DeviceFact(*row))
    disks: dict[int, list[DiskFact]] = defaultdict(list)
    for vm_id, *row in child(GuestDisk, "key", "storage_name", "volume", is_cdrom=False):
        disks[vm_id].append(DiskFact(*row))
    copies: dict[int, list[CopyFact]] = defaultdict(list)
    open_copies = Copy.objects.filter(vm__in=guests.values("pk"), deleted_at__isnull=True).annotate(
        created=_Epoch("created_at")
    )
    copy_fields = ("kind", "name", "storage_name", "storage_class", "node", "created")
    for (
        vm_id,
        kind,
        name,
        storage,
        cls,
        node,
        created,
        vmstate,
        size,
    ) in open_copies.order_by().values_list("vm_id", *copy_fields, "vmstate", "size"):
        copies[vm_id].append(CopyFact(kind, name, storage, cls, node, _at(created), vmstate, size))
    owners = {
        vm_id: row
        for vm_id, *row in child(
            Ownership, "owner_id", "custodian_id", "team_id", "lease_end", until__isnull=True
        )
    }
    confirmed = dict(
        PatchConfirmation.objects.filter(vm__in=guests.values("pk"))
        .order_by()
        .values("vm_id")
        .annotate(last=Max("confirmed_at"))
        .values_list("vm_id", "last")
    )
    rollbacks: dict[int, list[RollbackFact]] = defaultdict(list)
    for vm_id, *row in child(Rollback, "detected_at", "source", "snapshot_name", "task_upid"):
        if (seen := confirmed.get(vm_id)) is None or row[0] > seen:
            rollbacks[vm_id].append(RollbackFact(*row))
    made = (
        Lineage.objects.filter(parent__in=guests.values("pk"), child__gone_since__isnull=True)
        .order_by()
        .values("parent_id")
        .annotate(
            clones=Count("pk", filter=~Q(kind=LineageKind.TEMPLATE_OF)),
            templates=Count("pk", filter=Q(kind=LineageKind.TEMPLATE_OF) | Q(child__template=True)),
        )
        .values_list("parent_id", "clones", "templates")
    )
    lineage = {parent: (clones, templates) for parent, clones, templates in made}

    vm_fields = (
        "pk", "cluster_id", "vmid", "name", "kind", "node_id", "status", "tags_text", "pool",
        "template", "lock", "hastate", "classification", "vmgenid", "smbios_uuid", "has_rng",
        "config_digest", "seen_first", "ran_last",
    )  # fmt: skip
    vms = []
    no_owner = (None, None, None, None)
    no_lineage = (0, 0)
    empty: frozenset[str] = frozenset()
    # This loop runs once per guest of the estate: bind lookups once, build each record
    # with NamedTuple._make (C-level tuple.__new__) rather than the keyword-aware __new__.
    make, fromtimestamp = VmFacts._make, datetime.fromtimestamp
    node_name, lineage_of, owner_of = node_names.get, lineage.get, owners.get
    devices_of, disks_of, copies_of = devices.get, disks.get, copies.get
    rollbacks_of, confirmed_of = rollbacks.get, confirmed.get
    storages_of = {pk: frozenset(d.storage for d in rows) for pk, rows in disks.items()}.get
    timed = guests.annotate(seen_first=_Epoch("first_seen"), ran_last=_Epoch("last_running"))
    for row in timed.order_by().values_list(*vm_fields):
        pk, tags, first_seen, last_running = row[0], row[7], row[17], row[18]
        vms.append(
            make(
                (
                    pk,
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    node_name(row[5], ""),
                    row[6],
                    frozenset(tags.split(";")) if tags else empty,
                    *row[8:17],
                    None if first_seen is None else fromtimestamp(first_seen, UTC),
                    None if last_running is None else fromtimestamp(last_running, UTC),
                    *owner_of(pk, no_owner),
                    tuple(devices_of(pk, ())),
                    tuple(disks_of(pk, ())),
                    tuple(copies_of(pk, ())),
                    tuple(rollbacks_of(pk, ())),
                    confirmed_of(pk),
                    *lineage_of(pk, no_lineage),
                    storages_of(pk, empty),
                )
            )
        )

    open_keys: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    remembering = Policy.objects.filter(kind__in=REMEMBERING_KINDS).values("pk")
    for policy_id, vm_id, key in Violation.objects.filter(
        policy__in=remembering, resolved_at__isnull=True, vm__in=guests.values("pk")
    ).values_list("policy_id", "vm_id", "rule_key"):
        open_keys[policy_id][vm_id].add(key)

    return FleetFacts(
        read_at=now,
        vms=tuple(vms),
        clusters=clusters,
        identity_clashes=_identity_clashes(guests),
        usernames=dict(User.objects.values_list("pk", "username")),
        team_slugs=dict(Team.objects.values_list("pk", "slug")),
        quarantines={
            vm_id: (pk, cause)
            for pk, vm_id, cause in Quarantine.objects.filter(
                lifted_at__isnull=True, vm__in=guests.values("pk")
            ).values_list("pk", "vm_id", "cause")
        },
        open_keys={
            policy_id: {vm_id: frozenset(keys) for vm_id, keys in by_vm.items()}
            for policy_id, by_vm in open_keys.items()
        },
    )


def _clusters_load(cluster_ids: list[int], *, now: datetime) -> dict[int, ClusterFacts]:
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


class _Epoch(Func):
    """A timestamp as seconds since 1970: the database formats numbers far faster than the
    driver parses 200,000 timestamps, which otherwise is most of the read."""

    # A bare Field: Django would otherwise run a float() converter over every value.
    output_field = Field()

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Whole seconds plus the stored ".ffffff" (julianday's double loses ~40 us); "%%%%"
        # survives both the template and the "%s" placeholder rewriting.
        template = (
            "(CAST(strftime('%%%%s', %(expressions)s) AS REAL)"
            " + CAST(substr(%(expressions)s, 20) AS REAL))"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def _at(epoch: float | None) -> datetime | None:
    # fromtimestamp rounds to the microsecond, which absorbs the float's error.
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


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


def _identity_clashes(guests) -> dict[int, tuple[IdentityClash, ...]]:
    """UUIDs and MACs shared by several live guests of the estate, per guest of ``guests``.

    Two GROUP BY ... HAVING queries find the shared values, so the cost follows the
    number of clashes, not the size of the fleet.
    """
    live = VirtualMachine.objects.filter(gone_since__isnull=True)
    shared_uuids = (
        live.exclude(smbios_uuid="")
        .order_by()
        .values("smbios_uuid")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values("smbios_uuid")
    )
    by_uuid: dict[str, list[int]] = defaultdict(list)
    for pk, uuid in live.filter(smbios_uuid__in=shared_uuids).values_list("pk", "smbios_uuid"):
        by_uuid[uuid].append(pk)
    live_nics = GuestNic.objects.filter(vm__gone_since__isnull=True).exclude(mac="")
    shared_macs = (
        live_nics.order_by()
        .values("mac")
        .annotate(n=Count("vm_id", distinct=True))
        .filter(n__gt=1)
        .values("mac")
    )
    by_mac: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for vm_id, key, mac in live_nics.filter(mac__in=shared_macs).values_list("vm_id", "key", "mac"):
        by_mac[mac].append((vm_id, key))
    clashing = {i for ids in by_uuid.values() for i in ids}
    clashing |= {i for holders in by_mac.values() for i, _ in holders}
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


def exemptions_load(*, now: datetime) -> dict[tuple[int, int], frozenset[str]]:
    """Active exemptions as ``{(policy_id, vm_id): rule keys}``; "" in the keys means all."""
    active: dict[tuple[int, int], set[str]] = defaultdict(set)
    for policy_id, vm_id, key in Exemption.objects.filter(
        until__gt=now, revoked_at__isnull=True
    ).values_list("policy_id", "vm_id", "rule_key"):
        active[(policy_id, vm_id)].add(key)
    return {pair: frozenset(keys) for pair, keys in active.items()}
