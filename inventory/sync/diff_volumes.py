"""Diff of the copies found in storage listings (pure; called by ``inventory.sync.diff``):
backups, and disk images left where their guest does not use them (replicas, leftovers).

An archive recorded as an approved export is that export, never also a backup. A copy
is closed only when its storage was listed this cycle without it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

from inventory.proxmox.types import GuestEntry
from inventory.sync.diff_ledgers import Fate, guest_ref
from inventory.sync.state import (
    Changeset,
    CopyClose,
    CopyOpen,
    Event,
    LocalCopy,
    LocalState,
    RemoteState,
)

_BACKUP_VMID = re.compile(r"vzdump-(?:qemu|lxc|openvz)-(\d+)-")
_DISK_CONTENT = frozenset({"images", "rootdir"})


def _basename(volid: str) -> tuple[str, str]:
    storage, _, volname = volid.partition(":")
    return storage, volname.rsplit("/", 1)[-1]


def _owner_volumes(
    vmid: int, local: LocalState, remote: RemoteState, fate: Fate
) -> set[tuple[str, str]] | None:
    """The (storage, file name) pairs the live guest ``vmid`` uses, or None if unknown."""
    config = remote.configs.get(vmid)
    if config is not None:
        return {_basename(d.volume) for d in config.disks if d.storage and not d.is_cdrom}
    known = local.guests.get(vmid)
    if known is None or known.id in fate.gone or not known.config_digest:
        return None
    return {_basename(v) for v in known.volumes}


def diff_volumes(
    local: LocalState,
    remote: RemoteState,
    guests: Mapping[int, GuestEntry] | None,
    cs: Changeset,
    fate: Fate,
) -> None:
    open_by_place: dict[tuple[str, str], dict[tuple[str, str], LocalCopy]] = defaultdict(dict)
    # Archives an approved export wrote: the export row says what they are, not a backup.
    exported: set[tuple[str, str, str]] = set()
    for copy in local.copies.values():
        if copy.kind in ("backup", "replica"):
            open_by_place[(copy.storage, copy.node)][(copy.kind, copy.name)] = copy
        elif copy.kind == "export":
            exported.add((copy.storage, copy.node, copy.name))
    for ref, volumes in remote.volumes.items():
        stored = open_by_place.get((ref.storage, ref.node), {})
        seen: set[tuple[str, str]] = set()
        for volume in volumes:
            kind, vmid = _copy_kind(volume.volid, volume.content, volume.vmid)
            if kind == "backup" and (ref.storage, ref.node, volume.volid) in exported:
                if (recorded := stored.get((kind, volume.volid))) is not None:
                    _reclassified(recorded, local, fate, cs)
                continue
            if kind == "image":
                # A disk image is a copy only where its guest does not use it: a
                # replica on another node, or the leftover of a destroyed guest.
                kind = "replica"
                if guests is None:  # who lives where is unknown: decide nothing
                    seen.add((kind, volume.volid))
                    continue
                owner = guests.get(vmid)
                if owner is not None:
                    used = _owner_volumes(vmid, local, remote, fate)
                    if used is None:
                        seen.add((kind, volume.volid))
                        continue
                    here = not ref.node or owner.node == ref.node
                    if here and _basename(volume.volid) in used:
                        continue
            elif kind == "":
                continue
            seen.add((kind, volume.volid))
            if (kind, volume.volid) not in stored:
                cs.copies_open.append(
                    CopyOpen(
                        guest_ref(vmid, local, fate),
                        vmid,
                        kind,
                        volume.volid,
                        volume.ctime or cs.now,
                        storage=ref.storage,
                        node=ref.node,
                        size=volume.size,
                    )
                )
        cs.copies_close.extend(
            CopyClose(copy.id, cs.now) for key, copy in stored.items() if key not in seen
        )


def _reclassified(copy: LocalCopy, local: LocalState, fate: Fate, cs: Changeset) -> None:
    """A backup row opened before the export recorded the same archive: it is closed (the
    export row carries the archive from now on) and the audit trail says why."""
    cs.events.append(
        Event(
            "inventory.backup_is_export",
            guest_ref(copy.source_vmid, local, fate),
            before={"kind": "backup", "name": copy.name},
            after={"kind": "export", "name": copy.name},
        )
    )


def _copy_kind(volid: str, content: str, vmid: int | None) -> tuple[str, int]:
    """("backup" | "image" | "", owner vmid) for one storage item."""
    if content == "backup":
        match = _BACKUP_VMID.search(volid)
        owner = vmid if vmid is not None else int(match[1]) if match else None
        return ("backup", owner) if owner is not None else ("", 0)
    if content in _DISK_CONTENT and vmid is not None:
        return "image", vmid
    return "", 0
