"""Guest config files: rendering, digest, typed API output and tag normalisation.

A guest config is a plain ``dict[str, str]`` holding exactly what PVE stores in
``/etc/pve/nodes/<node>/qemu-server/<vmid>.conf`` (values are the raw strings of the file).
:func:`render_config` reproduces ``PVE::QemuServer::write_vm_config`` /
``PVE::LXC::Config::write_pct_config`` so :func:`config_digest` equals the SHA1 PVE reports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

# Keys that never appear as ``key: value`` lines in a section.
_SECTION_SKIP = frozenset({"digest", "description", "pending", "snapshots", "snapstate"})

QEMU_INT_KEYS = frozenset(
    {
        "balloon",
        "cores",
        "cpuunits",
        "migrate_speed",
        "shares",
        "smp",
        "snaptime",
        "sockets",
        "vcpus",
    }
)
QEMU_NUMBER_KEYS = frozenset({"cpulimit", "migrate_downtime"})
QEMU_BOOL_KEYS = frozenset(
    {
        "acpi",
        "allow-ksm",
        "autostart",
        "ciupgrade",
        "freeze",
        "keephugepages",
        "kvm",
        "localtime",
        "numa",
        "onboot",
        "protection",
        "reboot",
        "tablet",
        "tdf",
        "template",
    }
)
LXC_INT_KEYS = frozenset({"cores", "cpuunits", "memory", "swap", "tty", "snaptime"})
LXC_NUMBER_KEYS = frozenset({"cpulimit"})
LXC_BOOL_KEYS = frozenset({"console", "debug", "onboot", "protection", "template", "unprivileged"})

_TYPES = {
    "qemu": (QEMU_INT_KEYS, QEMU_NUMBER_KEYS, QEMU_BOOL_KEYS),
    "lxc": (LXC_INT_KEYS, LXC_NUMBER_KEYS, LXC_BOOL_KEYS),
}

# PVE::Tools::encode_text: escape control/high-bit characters and ':'.
_SAFE_TEXT = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x3A)


def encode_text(text: str) -> str:
    return quote(text, safe=_SAFE_TEXT)


def _render_section(conf: Mapping[str, str], *, pending: bool = False) -> list[str]:
    lines: list[str] = []
    description = conf.get("description")
    if description is not None:
        if description:
            lines.extend("#" + encode_text(line) for line in description.split("\n"))
        elif pending:
            lines.append("#")
    lines.extend(f"{key}: {conf[key]}" for key in sorted(conf) if key not in _SECTION_SKIP)
    return lines


def render_config(
    conf: Mapping[str, str],
    *,
    pending: Mapping[str, str] | None = None,
    snapshots: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Render the config file text exactly as PVE writes it.

    ``pending`` holds pending values and, under the key ``delete``, the pending deletions
    (``key1,!key2`` where ``!`` means forced) as PVE stores them.
    """
    lines = _render_section(conf)
    if pending:
        lines.append("")
        lines.append("[PENDING]")
        lines.extend(_render_section(pending, pending=True))
    for name in sorted(snapshots or ()):
        lines.append("")
        lines.append(f"[{name}]")
        lines.extend(_render_section(snapshots[name]))  # type: ignore[index]
    return "".join(line + "\n" for line in lines)


def config_digest(text: str) -> str:
    """SHA1 hex of the raw config text, as ``parse_vm_config`` computes ``digest``."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def typed_value(kind: str, key: str, value: str) -> str | int | float:
    """Convert a raw config string into the JSON scalar PVE returns for ``key``."""
    int_keys, number_keys, bool_keys = _TYPES[kind]
    if key in int_keys or key in bool_keys:
        try:
            return int(value)
        except ValueError:
            return value
    if key in number_keys:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def typed_config(kind: str, conf: Mapping[str, str]) -> dict[str, str | int | float]:
    return {key: typed_value(kind, key, value) for key, value in conf.items()}


_TAG_RE = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$")
_TAG_SPLIT_RE = re.compile(r"[;, ]+")


def normalize_tags(text: str) -> str:
    """Lower-case, validate, sort and de-duplicate a tag list; PVE stores it ``;``-joined.

    Raises ValueError naming the first invalid tag.
    """
    tags = {tag.lower() for tag in _TAG_SPLIT_RE.split(text.strip()) if tag}
    for tag in tags:
        if not _TAG_RE.match(tag):
            raise ValueError(f"invalid tag '{tag}'")
    return ";".join(sorted(tags))


def split_list(text: str) -> list[str]:
    """Split a ``pve-configid-list`` (comma, semicolon or whitespace separated)."""
    return [item for item in re.split(r"[,;\s]+", text.strip()) if item]


def pending_delete_parse(text: str | None) -> dict[str, bool]:
    """``usb0,!scsi1`` -> ``{"usb0": False, "scsi1": True}`` (value = forced)."""
    result: dict[str, bool] = {}
    for item in split_list(text or ""):
        force = item.startswith("!")
        result[item.lstrip("!")] = force
    return result


def pending_delete_format(items: Mapping[str, bool]) -> str:
    return ",".join(("!" if force else "") + key for key, force in items.items())


def without(conf: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    drop = set(keys)
    return {key: value for key, value in conf.items() if key not in drop}
