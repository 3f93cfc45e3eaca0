"""Disk allocation for config changes and guest creation.

``<storage>:<GiB>`` in a disk option asks PVE to allocate a new volume (``local-lvm:32``);
``<storage>:0,import-from=<volid>`` copies an existing image or import source. The option is
rewritten to the allocated volid plus ``size=``, as PVE stores it.
"""

from __future__ import annotations

import re

from pvesim.model.appliances import import_source_size
from pvesim.model.errors import ModelError, WorkerError
from pvesim.model.estate import Estate
from pvesim.model.guest import Guest
from pvesim.model.propstring import (
    format_propstring,
    format_size,
    is_lxc_volume_key,
    is_qemu_disk_key,
    parse_option,
    parse_size,
)
from pvesim.model.volumes import FILE_STORAGE_TYPES, image_volname, split_volid

_NEW_DISK_RE = re.compile(r"^(?P<storage>[a-zA-Z][\w\-.]*[\w]):(?P<size>\d+(?:\.\d+)?)$")
_DISK_INDEX_RE = re.compile(r"-disk-(\d+)")
_GIB = 1024**3


def _volume_key_of(kind: str, key: str) -> bool:
    return is_qemu_disk_key(key) if kind == "qemu" else is_lxc_volume_key(key)


def _used_indexes(guest: Guest) -> set[int]:
    used: set[int] = set()
    sections = [guest.config, guest.pending, *guest.snapshots.values()]
    for section in sections:
        for value in section.values():
            for match in _DISK_INDEX_RE.finditer(value):
                if f"-{guest.vmid}-disk-" in value:
                    used.add(int(match.group(1)))
    return used


def _source_size(estate: Estate, node: str, volid: str) -> int:
    """Size of an import source: a stored volume or another guest's disk."""
    if (size := import_source_size(estate, node, volid)) is not None:
        return size
    storage_id, _ = split_volid(volid)
    storage = estate.storage(storage_id)
    for volume in estate.stored_volumes(storage, node):
        if volume.volid == volid:
            return volume.size
    for item in estate.guest_volumes(storage, node):
        if item["volid"] == volid:
            return int(item["size"])
    volname = split_volid(volid)[1]
    if volname.startswith("import/"):
        # An untrusted import image is checked with file_size_info first (stat fails).
        raise WorkerError(
            f"failed to stat '{storage.options.get('path', '/var/lib/vz')}/{volname}'"
        )
    raise WorkerError(f"cannot import from '{volid}' - could not get size of {volid}")


def allocate_disks(estate: Estate, guest: Guest, values: dict[str, str]) -> list[str]:
    """Rewrite new-disk requests in ``values`` to allocated volumes; returns task log lines.

    Raises ModelError for unknown/unsuitable storages and missing import sources.
    """
    logs: list[str] = []
    used = _used_indexes(guest)
    content = "images" if guest.kind == "qemu" else "rootdir"
    for key, value in list(values.items()):
        if not _volume_key_of(guest.kind, key) or "media=cdrom" in value:
            continue
        parsed = parse_option(key, value)
        default_key = "file" if guest.kind == "qemu" else "volume"
        target = parsed.get(default_key, "")
        match = _NEW_DISK_RE.match(target)
        if match is None:
            continue
        storage = estate.storage(match.group("storage"))
        if content not in storage.content:
            noun = "vm images" if content == "images" else "container directories"
            raise ModelError(f"storage '{storage.storage}' does not support {noun}")
        if not storage.available_on(guest.node) or not storage.enabled:
            raise ModelError(f"storage '{storage.storage}' is not available on node '{guest.node}'")
        size = int(float(match.group("size")) * _GIB)
        source = parsed.pop("import-from", None)
        if source is not None:
            size = _source_size(estate, guest.node, source)
            if ".ova/" in source:
                logs.append(f"extracting {source}")
            logs.append(f"importing disk '{source}' to VM {guest.vmid} ...")
        index = 0
        while index in used:
            index += 1
        used.add(index)
        fmt = parsed.pop("format", "qcow2" if storage.type in FILE_STORAGE_TYPES else "raw")
        prefix = "subvol" if guest.kind == "lxc" and storage.type == "zfspool" else "vm"
        volname = image_volname(
            storage_type=storage.type, vmid=guest.vmid, index=index, fmt=fmt, prefix=prefix
        )
        volid = f"{storage.storage}:{volname}"
        parsed[default_key] = volid
        parsed["size"] = format_size(size)
        values[key] = format_propstring(parsed, default_key=default_key)
        if storage.type == "lvmthin":
            logs.append(f'  Logical volume "{volname}" created.')
        else:
            logs.append(f"Formatting '{volid}', fmt={fmt} size={size}")
    return logs


def resize_option(value: str, key: str, size_spec: str) -> tuple[str, int, int]:
    """Apply ``size`` (``+10G`` or ``50G``) to a disk option; returns (value, old, new) bytes.

    A shrink is left to the caller to refuse: qemu-server and pve-container word it
    differently."""
    default_key = "volume" if key == "rootfs" or key.startswith("mp") else "file"
    parsed = parse_option(key, value)
    old = parse_size(parsed.get("size", "0"))
    grow = size_spec.startswith("+")
    amount = parse_size(size_spec.lstrip("+"))
    new = old + amount if grow else amount
    parsed["size"] = format_size(new)
    return format_propstring(parsed, default_key=default_key), old, new
