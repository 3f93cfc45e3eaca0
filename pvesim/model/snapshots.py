"""Snapshot tree operations on a guest's config sections.

Mirrors ``PVE::AbstractConfig``: a snapshot section is a copy of the current config (minus
lock, pending, unused disks and snapshot metadata) plus ``snaptime``, its own
``description``, ``vmstate`` when RAM was saved, and ``parent`` = the previous head.
"""

from __future__ import annotations

from typing import Any

from pvesim.model.errors import ModelError
from pvesim.model.guest import Guest

_NOT_COPIED = frozenset(
    {"snapshots", "snapstate", "snaptime", "vmstate", "lock", "digest", "description", "pending"}
)


def _copy_for_snapshot(conf: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in conf.items()
        if key not in _NOT_COPIED and not key.startswith("unused")
    }


def snapshot_check_new(guest: Guest, name: str) -> None:
    if name == "current":
        raise ModelError.param("snapname", "invalid snapshot name 'current'")
    if name in guest.snapshots:
        raise ModelError(f"snapshot name '{name}' already used")


def snapshot_create(
    guest: Guest, *, name: str, description: str, snaptime: int, vmstate: str | None
) -> None:
    """Record snapshot ``name`` of the current config and make it the new head."""
    snapshot_check_new(guest, name)
    section = _copy_for_snapshot(guest.config)
    section["snaptime"] = str(snaptime)
    if description:
        section["description"] = description
    if vmstate is not None:
        section["vmstate"] = vmstate
        if guest.kind == "qemu":
            section.setdefault("runningmachine", "pc-i440fx-9.2+pve1")
    guest.snapshots[name] = section
    guest.config["parent"] = name


def snapshot_get(guest: Guest, name: str) -> dict[str, str]:
    try:
        return guest.snapshots[name]
    except KeyError:
        raise ModelError(f"snapshot '{name}' does not exist") from None


def snapshot_delete(guest: Guest, name: str) -> str | None:
    """Drop ``name``, re-parent its children; returns its vmstate volid (to free), if any."""
    section = snapshot_get(guest, name)
    parent = section.get("parent")
    for other in guest.snapshots.values():
        if other.get("parent") == name:
            if parent:
                other["parent"] = parent
            else:
                other.pop("parent", None)
    if guest.config.get("parent") == name:
        if parent:
            guest.config["parent"] = parent
        else:
            guest.config.pop("parent", None)
    del guest.snapshots[name]
    return section.get("vmstate")


def snapshot_rollback(guest: Guest, name: str) -> bool:
    """Restore the config of ``name``; returns True when the guest resumes from saved RAM."""
    section = snapshot_get(guest, name)
    kept = {key: value for key, value in guest.config.items() if key.startswith("unused")}
    if "lock" in guest.config:
        kept["lock"] = guest.config["lock"]
    restored = _copy_for_snapshot(section)
    restored.pop("runningmachine", None)
    restored.pop("runningcpu", None)
    restored["parent"] = name
    restored.update(kept)
    guest.config.clear()
    guest.config.update(restored)
    guest.pending.clear()
    return "vmstate" in section


def snapshot_list(guest: Guest, *, digest: str) -> list[dict[str, Any]]:
    """``GET .../snapshot`` items plus the ``current`` pseudo-entry PVE appends."""
    items: list[dict[str, Any]] = []
    for name, section in guest.snapshots.items():
        item: dict[str, Any] = {
            "name": name,
            "description": section.get("description", ""),
            "snaptime": int(section.get("snaptime", "0")),
        }
        if guest.kind == "qemu":
            item["vmstate"] = 1 if "vmstate" in section else 0
        if section.get("parent"):
            item["parent"] = section["parent"]
        items.append(item)
    current: dict[str, Any] = {
        "name": "current",
        "description": "You are here!",
        "digest": digest,
        "running": 1 if guest.running else 0,
    }
    if guest.config.get("parent"):
        current["parent"] = guest.config["parent"]
    items.append(current)
    return items
