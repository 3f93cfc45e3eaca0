"""What ties a guest to its node: passthrough devices and node-local volumes.

Used by the migration preconditions and worker (``qemu-server``'s ``check_local_resources``
and local-disk scan) and by ``targetstorage`` mapping.
"""

from __future__ import annotations

from typing import Any

from pvesim.model.estate import Estate
from pvesim.model.guest import Guest
from pvesim.model.propstring import format_propstring, key_family, parse_option, parse_size
from pvesim.model.volumes import image_volname, split_volid


def _pins_to_node(family: str, value: str) -> bool:
    mapped = "mapping=" in value
    if family == "usb":
        return not mapped and not value.startswith(("spice", "host=spice"))
    if family == "hostpci":
        return not mapped
    if family == "serial":
        return value != "socket"
    return family in {"parallel", "virtiofs"}


def local_resources(guest: Guest) -> list[str]:
    """Config keys that pin the guest to its node (qemu-server ``check_local_resources``)."""
    found = []
    for key, value in guest.config.items():
        family, index = key_family(key)
        if key == "ivshmem" or (index is not None and _pins_to_node(family, value)):
            found.append(key)
    return found


def local_disks(estate: Estate, guest: Guest) -> list[dict[str, Any]]:
    """Volumes (and CD-ROM media) on storage that is not shared."""
    disks = []
    for key, value in guest.config.items():
        family, index = key_family(key)
        if index is None and key != "rootfs":
            continue
        parsed = parse_option(key, value)
        volid = parsed.get("file") or parsed.get("volume")
        if not volid or ":" not in volid:
            continue
        storage = estate.storages.get(split_volid(volid)[0])
        if storage is None or storage.shared:
            continue
        item: dict[str, Any] = {
            "volid": volid,
            "size": _size(parsed.get("size")),
            "drivename": key,
            "cdrom": 1 if "media=cdrom" in value else 0,
            "is_unused": 1 if family == "unused" else 0,
        }
        disks.append(item)
    return disks


def _size(text: str | None) -> int:
    try:
        return parse_size(text) if text else 0
    except ValueError:
        return 0


def parse_storage_map(text: str | None) -> dict[str, str]:
    """``targetstorage``: ``dst`` (every local disk), ``src:dst,...``, or ``1`` (keep)."""
    if not text or text == "1":
        return {}
    if ":" not in text:
        return {"*": text}
    return dict(pair.split(":", 1) for pair in text.split(",") if ":" in pair)


def _mapped(storage_map: dict[str, str], storage_id: str) -> str:
    return storage_map.get(storage_id) or storage_map.get("*") or storage_id


def unavailable_storages(
    estate: Estate, guest: Guest, target: str, storage_map: dict[str, str] | None = None
) -> list[str]:
    """Storages the guest's volumes would need on ``target`` but cannot have there."""
    missing = []
    for key, value in guest.config.items():
        if key_family(key)[1] is None and key != "rootfs":
            continue
        parsed = parse_option(key, value)
        volid = parsed.get("file") or parsed.get("volume") or ""
        if ":" not in volid:
            continue
        storage = estate.storages.get(split_volid(volid)[0])
        if storage is None:
            continue
        if not storage.shared and storage_map and "media=cdrom" not in value:
            storage = estate.storages.get(_mapped(storage_map, storage.storage), storage)
        if not storage.available_on(target) and storage.storage not in missing:
            missing.append(storage.storage)
    return missing


def relocate_volumes(estate: Estate, guest: Guest, storage_map: dict[str, str]) -> None:
    """Rewrite local disks to the storages they were copied to (``targetstorage``)."""
    for key, volid, parsed in guest.volumes():
        source = estate.storages.get(split_volid(volid)[0])
        if source is None or source.shared:
            continue
        target = estate.storages.get(_mapped(storage_map, source.storage))
        if target is None or target.storage == source.storage:
            continue
        index = int(volid.rsplit("-disk-", 1)[1].split(".")[0]) if "-disk-" in volid else 0
        volname = image_volname(storage_type=target.type, vmid=guest.vmid, index=index)
        default_key = "file" if "file" in parsed else "volume"
        parsed[default_key] = f"{target.storage}:{volname}"
        guest.config[key] = format_propstring(parsed, default_key=default_key)
