"""The plain, immutable facts evaluation reads (``policy.facts`` loads and re-exports them).

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
the benchmark's time budget. Datetimes are aware (UTC).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import NamedTuple


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
    on exit, with what was built moved to the oldest generation unscanned.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                # Hand everything built to the oldest generation without walking it: the
                # young collection that re-enabling triggers would otherwise re-walk every
                # object just allocated (a tenth of a second at 100,000 guests). A later
                # full collection still frees any cycle among them. Skipped when someone
                # else froze objects on purpose (unfreeze would release theirs).
                gc.freeze()
                gc.unfreeze()
            gc.enable()
