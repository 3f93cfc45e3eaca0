"""Config updates (PUT/POST ``.../config``) with PVE's delete/revert/pending semantics.

A stopped guest takes every change at once. A running guest applies hot-pluggable changes
immediately and parks the rest in the ``[PENDING]`` section until the next cold start.
"""

from __future__ import annotations

from collections.abc import Mapping

from pvesim.model.errors import ModelError
from pvesim.model.guest import Guest, remove_option
from pvesim.model.propstring import key_family

# Options PVE applies to the running config without a restart (qemu "fast plug").
_QEMU_FAST_PLUG = frozenset(
    {
        "name",
        "hotplug",
        "onboot",
        "shares",
        "startup",
        "description",
        "protection",
        "vmstatestorage",
        "tags",
        "balloon",
        "cpulimit",
        "cpuunits",
        "lock",
    }
)
_LXC_COLD = frozenset({"rootfs", "arch", "ostype", "unprivileged", "features", "hookscript"})


def _qemu_hotpluggable(guest: Guest, key: str, value: str | None) -> bool:
    if key in _QEMU_FAST_PLUG:
        return True
    family, index = key_family(key)
    if family == "unused":
        return True
    hotplug = guest.config.get("hotplug", "network,disk,usb")
    if hotplug == "1":
        hotplug = "network,disk,usb"
    enabled = set() if hotplug == "0" else set(hotplug.split(","))
    if family == "net" and index is not None:
        return "network" in enabled
    if family in {"scsi", "virtio"} and index is not None:
        return "disk" in enabled
    if key == "ide2" and "media=cdrom" in (value or guest.config.get(key, "")):
        return True
    if family == "usb" and index is not None:
        return "usb" in enabled
    if key == "memory":
        return "memory" in enabled
    if key == "vcpus":
        return "cpu" in enabled
    return False


def _lxc_hotpluggable(key: str) -> bool:
    family, index = key_family(key)
    if family in {"mp", "dev"} and index is not None:
        return False
    return key not in _LXC_COLD and not key.startswith("lxc.")


def is_hotpluggable(guest: Guest, key: str, value: str | None = None) -> bool:
    if guest.kind == "qemu":
        return _qemu_hotpluggable(guest, key, value)
    return _lxc_hotpluggable(key)


def config_update_check(*, values: Mapping[str, str], delete: list[str], revert: list[str]) -> None:
    """The parameter clashes PVE refuses before touching anything (400)."""
    for key in delete:
        if key in values:
            raise ModelError.param(
                "delete", f"you can't use '-{key}' and -delete {key}' at the same time"
            )
    for key in revert:
        if key in values or key in delete:
            raise ModelError.param(
                "revert", f"you can't use '-{key}' and '-revert {key}' at the same time"
            )


def config_update(
    guest: Guest,
    *,
    values: Mapping[str, str],
    delete: list[str],
    revert: list[str],
    force: bool = False,
) -> list[str]:
    """Apply one config update and return the warnings PVE would log.

    Raises ModelError for the parameter clashes PVE rejects. Caller has already checked
    lock, digest and per-key permissions.
    """
    config_update_check(values=values, delete=delete, revert=revert)
    warnings: list[str] = []
    deletes = guest.pending_deletes()
    for key in revert:
        guest.pending.pop(key, None)
        deletes.pop(key, None)

    running = guest.running
    for key in delete:
        if key not in guest.config and key not in guest.pending:
            warnings.append(f"cannot delete '{key}' - not set in current configuration!")
            continue
        guest.pending.pop(key, None)
        if not running or is_hotpluggable(guest, key):
            deletes.pop(key, None)
            remove_option(guest, key, force=force)
        else:
            deletes[key] = force

    for key, value in values.items():
        deletes.pop(key, None)
        if not running or is_hotpluggable(guest, key, value):
            guest.pending.pop(key, None)
            guest.config[key] = value
        else:
            guest.pending[key] = value

    guest.set_pending_deletes(deletes)
    return warnings
