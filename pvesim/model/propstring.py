"""PVE property strings: ``key=value,key=value`` with an optional default key.

PVE stores most structured guest options (``net0``, ``scsi0``, ``usb0``, ``hostpci0``...) as
property strings. The first element may omit its key, in which case it belongs to the
format's default key (``file`` for disks, ``host`` for USB/PCI). Order is preserved because
PVE prints options in the order the client wrote them and digests are computed over that text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Default key of each config-key family (``scsi3`` -> ``scsi``).
DEFAULT_KEYS: dict[str, str] = {
    "ide": "file",
    "sata": "file",
    "scsi": "file",
    "virtio": "file",
    "efidisk": "file",
    "tpmstate": "file",
    "unused": "file",
    "rootfs": "volume",
    "mp": "volume",
    "usb": "host",
    "hostpci": "host",
    "memory": "current",
    "agent": "enabled",
    "boot": "legacy",
    "vga": "type",
    "cpu": "cputype",
    "net": "model",
}

QEMU_DISK_PREFIXES = ("ide", "sata", "scsi", "virtio", "efidisk", "tpmstate")
NIC_MODELS = frozenset(
    {"virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "i82551", "i82557b", "i82559er", "ne2k_pci"}
)
_FAMILY_RE = re.compile(r"^([a-z_-]+?)(\d+)$")


def key_family(key: str) -> tuple[str, int | None]:
    """Split ``scsi12`` into ``("scsi", 12)``; keys without an index give ``(key, None)``."""
    match = _FAMILY_RE.match(key)
    if match is None:
        return key, None
    return match.group(1), int(match.group(2))


def parse_propstring(text: str, *, default_key: str | None = None) -> dict[str, str]:
    """Parse ``a=1,b=2`` into an ordered dict; a bare first element goes to ``default_key``.

    A bare element without a default key is kept with an empty value (PVE flag syntax).
    """
    result: dict[str, str] = {}
    if not text:
        return result
    for position, part in enumerate(text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            if position == 0 and default_key is not None:
                result[default_key] = part
            else:
                result[part] = ""
            continue
        result[key] = value
    return result


def format_propstring(items: Mapping[str, str], *, default_key: str | None = None) -> str:
    """Inverse of :func:`parse_propstring`; the default key is written first without its name."""
    parts: list[str] = []
    if default_key is not None and default_key in items:
        parts.append(items[default_key])
    for key, value in items.items():
        if key == default_key:
            continue
        parts.append(f"{key}={value}" if value != "" else key)
    return ",".join(parts)


def parse_option(key: str, value: str) -> dict[str, str]:
    """Parse the value of config option ``key`` with the right default key."""
    family, _ = key_family(key)
    return parse_propstring(value, default_key=DEFAULT_KEYS.get(family))


def is_qemu_disk_key(key: str) -> bool:
    family, index = key_family(key)
    return index is not None and family in QEMU_DISK_PREFIXES


def is_lxc_volume_key(key: str) -> bool:
    family, index = key_family(key)
    return key == "rootfs" or (family == "mp" and index is not None)


def nic_model_and_mac(value: str) -> tuple[str, str | None]:
    """``virtio=BC:24:11:00:00:01,bridge=vmbr0`` -> ``("virtio", "BC:24:11:00:00:01")``."""
    first = value.split(",", 1)[0]
    model, sep, mac = first.partition("=")
    if model in NIC_MODELS:
        return model, (mac or None) if sep else None
    parsed = parse_propstring(value)
    return parsed.get("model", "virtio"), parsed.get("macaddr")


_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_UNIT = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """``32G`` -> bytes. Raises ValueError on malformed input."""
    match = _SIZE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid size '{text}'")
    return int(float(match.group(1)) * _UNIT[match.group(2)])


def format_size(size: int) -> str:
    """Bytes -> the compact form PVE writes into ``size=`` (largest exact unit)."""
    for unit in ("T", "G", "M", "K"):
        factor = _UNIT[unit]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
