"""Guests (QEMU VMs and LXC containers): config, pending changes, runtime state.

Invariants:
- ``config`` and ``pending`` hold raw config-file strings; ``pending["delete"]`` holds the
  pending deletions in PVE's ``key,!forced`` form. ``pending`` is empty when nothing is pending.
- ``config["lock"]`` is the only lock representation (exactly as PVE: it lives in the file).
- ``snapshots[name]`` is a full config section with ``snaptime`` and optional ``vmstate``;
  ``config["parent"]`` names the newest snapshot on the current branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pvesim.model.config import (
    config_digest,
    pending_delete_format,
    pending_delete_parse,
    render_config,
)
from pvesim.model.propstring import key_family, parse_option

GuestKind = Literal["qemu", "lxc"]


@dataclass(slots=True)
class GuestFirewall:
    """Per-guest firewall (``/etc/pve/firewall/<vmid>.fw``): options, ordered rules, ipsets."""

    options: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    ipsets: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Guest:
    """One guest; ``node`` is where its config file lives (changes only by migration)."""

    vmid: int
    kind: GuestKind
    node: str
    config: dict[str, str]
    pending: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, dict[str, str]] = field(default_factory=dict)
    status: Literal["running", "stopped"] = "stopped"
    paused: bool = False
    started_at: float = 0.0
    pid: int = 0
    pool: str | None = None
    agent_installed: bool = False
    os_release: dict[str, str] = field(default_factory=dict)
    """What the guest agent reports (``get-osinfo``); empty: derived from ``ostype``."""
    sensitive: bool = False
    firewall: GuestFirewall | None = None
    status_changed_at: float = 0.0
    """Simulated time of the last power-state change (for the optional stats lag)."""
    previous_status: Literal["running", "stopped", "unknown"] = "stopped"

    # ---- identity -------------------------------------------------------------------
    @property
    def noun(self) -> str:
        """``VM`` or ``CT``, as PVE words its messages."""
        return "VM" if self.kind == "qemu" else "CT"

    @property
    def resource_id(self) -> str:
        return f"{self.kind}/{self.vmid}"

    @property
    def config_path(self) -> str:
        folder = "qemu-server" if self.kind == "qemu" else "lxc"
        return f"nodes/{self.node}/{folder}/{self.vmid}.conf"

    @property
    def name(self) -> str:
        key = "name" if self.kind == "qemu" else "hostname"
        return self.config.get(key) or f"{self.noun} {self.vmid}"

    @property
    def lock(self) -> str | None:
        return self.config.get("lock") or None

    @property
    def is_template(self) -> bool:
        return self.config.get("template") == "1"

    @property
    def running(self) -> bool:
        return self.status == "running"

    # ---- config file ----------------------------------------------------------------
    def render(self) -> str:
        return render_config(self.config, pending=self.pending, snapshots=self.snapshots)

    def digest(self) -> str:
        return config_digest(self.render())

    def pending_deletes(self) -> dict[str, bool]:
        return pending_delete_parse(self.pending.get("delete"))

    def set_pending_deletes(self, items: dict[str, bool]) -> None:
        if items:
            self.pending["delete"] = pending_delete_format(items)
        else:
            self.pending.pop("delete", None)

    def effective_config(self) -> dict[str, str]:
        """The config with pending values applied and pending deletions removed."""
        if not self.pending:
            return dict(self.config)
        merged = dict(self.config)
        for key, value in self.pending.items():
            if key != "delete":
                merged[key] = value
        for key in self.pending_deletes():
            merged.pop(key, None)
        return merged

    def pending_items(self) -> list[dict[str, Any]]:
        """``GET .../pending`` items, as ``PVE::GuestHelpers::config_with_pending_array``."""
        deletes = self.pending_deletes()
        items: list[dict[str, Any]] = []
        for key, value in self.config.items():
            item: dict[str, Any] = {"key": key, "value": value}
            if key in self.pending and key != "delete":
                item["pending"] = self.pending[key]
            if key in deletes:
                item["delete"] = 2 if deletes[key] else 1
            items.append(item)
        for key, value in self.pending.items():
            if key != "delete" and key not in self.config:
                items.append({"key": key, "pending": value})
        for key, force in deletes.items():
            if key not in self.config and key not in self.pending:
                items.append({"key": key, "delete": 2 if force else 1})
        return items

    def apply_pending(self) -> None:
        """Apply all pending changes (cold start, reboot, or change of a stopped guest)."""
        deletes = self.pending_deletes()
        for key, value in self.pending.items():
            if key != "delete":
                self.config[key] = value
        for key, force in deletes.items():
            remove_option(self, key, force=force)
        self.pending.clear()

    # ---- disks ----------------------------------------------------------------------
    def volume_keys(self) -> list[str]:
        """Config keys that reference a guest volume (disks, unused, rootfs, mount points)."""
        keys = []
        for key, value in self.config.items():
            if is_volume_option(self.kind, key, value):
                keys.append(key)
        return keys

    def volumes(self) -> list[tuple[str, str, dict[str, str]]]:
        """``(key, volid, parsed option)`` for every volume in the current config."""
        result = []
        for key in self.volume_keys():
            parsed = parse_option(key, self.config[key])
            volid = parsed.get("file") or parsed.get("volume") or ""
            result.append((key, volid, parsed))
        return result


def is_volume_option(kind: str, key: str, value: str) -> bool:
    """True when ``key: value`` references a storage volume (CD-ROM media are not owned)."""
    family, index = key_family(key)
    if kind == "qemu":
        if index is None or family not in {
            "ide",
            "sata",
            "scsi",
            "virtio",
            "efidisk",
            "tpmstate",
            "unused",
        }:
            return False
        if "media=cdrom" in value:
            return False
        return ":" in value.split(",", 1)[0]
    if key == "rootfs" or (family in {"mp", "unused"} and index is not None):
        return ":" in value.split(",", 1)[0]
    return False


def next_free_index(conf: dict[str, str], family: str) -> int:
    index = 0
    while f"{family}{index}" in conf:
        index += 1
    return index


def remove_option(guest: Guest, key: str, *, force: bool) -> str | None:
    """Remove ``key`` from the config as PVE's delete does.

    A deleted disk that the guest owns becomes ``unusedN`` unless ``force``; returns the volid
    that must be freed (forced disk deletes and ``unusedN`` deletes), else None.
    """
    value = guest.config.get(key)
    if value is None:
        return None
    del guest.config[key]
    if not is_volume_option(guest.kind, key, value):
        return None
    volid = parse_option(key, value).get("file") or parse_option(key, value).get("volume")
    family, _ = key_family(key)
    if family == "unused" or force or volid is None:
        return volid
    if f"-{guest.vmid}-" not in volid:
        return None
    guest.config[f"unused{next_free_index(guest.config, 'unused')}"] = volid
    return None
