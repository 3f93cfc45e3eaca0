"""The plain-data contract of the sync: load remote -> load local -> diff -> apply.

Everything here is a frozen dataclass of plain values (no ORM instances, no clients),
so the diff is a pure function testable without a database or a network.

``RemoteState`` (built by ``inventory.sync.remote``, one per cluster and cycle)
    What one cycle read from a cluster. It reuses the gateway's typed results
    (``inventory.proxmox.types``: ``NodeEntry``, ``StorageEntry``, ``GuestEntry``,
    ``Snapshot``, ``Volume``, ``Task``; ``inventory.proxmox.clusterconf`` for backup
    jobs, HA resources/rules/groups and ACL entries, named ``*Facts`` here) and adds
    ``ConfigFacts`` (a parsed config) and ``StorageRef``.

    Completeness is the rule that protects data: **a part that failed, was not read,
    or cannot be trusted is ``None``** (for tuples) or **absent** (for the per-guest and
    per-storage mappings). The diff never creates "gone" facts from a ``None`` part:

    - ``nodes``/``storages``/``pools``/``guests`` come from the one ``/cluster/resources``
      read; all four are ``None`` when that read failed.
    - ``configs`` holds only the configs read this cycle (keyed by vmid); a guest not in
      it keeps its stored config. ``snapshots`` likewise (a vmid present with ``()``
      means "read, and it has no snapshots").
    - ``absent`` holds, for each live guest Steward knows that ``guests`` does not list,
      the verdict of a direct read of it on its last known node (``Absence``): PVE
      silently drops from ``/cluster/resources`` the guests a token may not see, so
      absence from the list alone proves nothing. Only ``Absence.GONE`` ("does not
      exist") lets the diff mark a guest gone.
    - ``volumes`` holds the content of each storage read this cycle, keyed by
      ``StorageRef``; a storage that failed is absent, so its copies stay open.
    - ``tasks``, ``backup_jobs``, ``ha_resources``, ``ha_rules``, ``ha_groups``, ``acl``:
      ``None`` when not read or failed (PVE 8 has no HA rules, PVE 9 no HA groups: the
      loader reads what the version has and leaves the other ``None``).
    - ``errors`` explains every ``None``/absent part in words an operator can act on;
      a state with errors makes the run ``partial``.

    The loader is called as ``load_remote(gateway, *, local: LocalState, full, now,
    progress)``: ``local`` tells it which configs to re-read (new guests; guests whose
    node, status, lock or tags changed or that a new task names; configs missing or
    read more than an hour ago; all of them when ``full``).

    Duplicates are allowed in ``guests`` (PVE may list a vmid on two nodes during a
    migration); the diff resolves them.

``LocalState`` (built by ``inventory.sync.local``)
    What Steward holds for one cluster, as tuples of ``Local*`` rows keyed for lookup:
    live guests by vmid, open ledger rows, known tasks. Only what the diff needs.

``Changeset`` (built by ``inventory.sync.diff``, applied by ``inventory.sync.apply``)
    Every write one cycle needs, already decided: rows to create, fields to update
    (only those that changed: an unchanged estate gives an empty changeset), rows to
    mark gone, ledger rows to open and close, audit events. A guest is referred to by
    ``GuestRef``: its row id when it exists, else its vmid (a guest created in the same
    changeset; live vmids are unique per cluster). Guest field mappings name the node
    by name (``"node": "pve1"``); apply resolves names to rows.

The dataclasses live by part: :mod:`inventory.sync.state_remote`,
:mod:`inventory.sync.state_local` and :mod:`inventory.sync.state_changeset`; this module
is the one import path callers use.
"""

from __future__ import annotations

from inventory.sync.state_changeset import (
    Changeset,
    CopyClose,
    CopyOpen,
    Event,
    GuestNew,
    GuestRef,
    GuestUpdate,
    LineageAdd,
    ResidencyClose,
    ResidencyOpen,
    RollbackAdd,
    RowChange,
)
from inventory.sync.state_local import (
    LocalCopy,
    LocalGuest,
    LocalNode,
    LocalState,
    LocalStorage,
    LocalStorageStatus,
    LocalTask,
)
from inventory.sync.state_remote import (
    Absence,
    AclFacts,
    BackupJobFacts,
    ConfigFacts,
    DeviceFacts,
    DiskFacts,
    GuestEntry,
    HAGroupFacts,
    HAResourceFacts,
    HARuleFacts,
    NicFacts,
    NodeEntry,
    RemoteState,
    Snapshot,
    StorageEntry,
    StorageRef,
    Task,
    Volume,
)

__all__ = [
    "Absence",
    "AclFacts",
    "BackupJobFacts",
    "Changeset",
    "ConfigFacts",
    "CopyClose",
    "CopyOpen",
    "DeviceFacts",
    "DiskFacts",
    "Event",
    "GuestEntry",
    "GuestNew",
    "GuestRef",
    "GuestUpdate",
    "HAGroupFacts",
    "HAResourceFacts",
    "HARuleFacts",
    "LineageAdd",
    "LocalCopy",
    "LocalGuest",
    "LocalNode",
    "LocalState",
    "LocalStorage",
    "LocalStorageStatus",
    "LocalTask",
    "NicFacts",
    "NodeEntry",
    "RemoteState",
    "ResidencyClose",
    "ResidencyOpen",
    "RollbackAdd",
    "RowChange",
    "Snapshot",
    "StorageEntry",
    "StorageRef",
    "Task",
    "Volume",
]
