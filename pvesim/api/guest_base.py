"""What QEMU and LXC handlers share: guest lookup, locks, per-key config permissions,
task names and the small conversions between typed parameters and config strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.model import Guest, ModelError
from pvesim.model.clusterconf import HAResource
from pvesim.model.propstring import key_family
from pvesim.tasks import TaskError

#: UPID task type per (kind, operation); HA-managed guests use ``ha*`` for power/migrate.
TASK_TYPES = {
    "qemu": {
        "create": "qmcreate",
        "restore": "qmrestore",
        "start": "qmstart",
        "stop": "qmstop",
        "shutdown": "qmshutdown",
        "reboot": "qmreboot",
        "reset": "qmreset",
        "suspend": "qmsuspend",
        "resume": "qmresume",
        "config": "qmconfig",
        "clone": "qmclone",
        "migrate": "qmigrate",
        "destroy": "qmdestroy",
        "snapshot": "qmsnapshot",
        "rollback": "qmrollback",
        "delsnapshot": "qmdelsnapshot",
        "template": "qmtemplate",
        "resize": "resize",
    },
    "lxc": {
        "create": "vzcreate",
        "restore": "vzrestore",
        "start": "vzstart",
        "stop": "vzstop",
        "shutdown": "vzshutdown",
        "reboot": "vzreboot",
        "suspend": "vzsuspend",
        "resume": "vzresume",
        "clone": "vzclone",
        "migrate": "vzmigrate",
        "destroy": "vzdestroy",
        "snapshot": "vzsnapshot",
        "rollback": "vzrollback",
        "delsnapshot": "vzdelsnapshot",
        "template": "vztemplate",
        "resize": "resize",
    },
}

# Parameters of config/create methods that are not config keys.
NON_CONFIG_PARAMS = frozenset(
    {
        "node",
        "vmid",
        "digest",
        "delete",
        "revert",
        "force",
        "skiplock",
        "background_delay",
        "start",
        "storage",
        "pool",
        "archive",
        "unique",
        "bwlimit",
        "live-restore",
        "ha-managed",
        "import-working-storage",
        "ostemplate",
        "password",
        "ssh-public-keys",
        "restore",
        "ignore-unpack-errors",
    }
)

_PRIV_BY_KEY: dict[str, str] = {}
for _priv, _keys in {
    "VM.Config.CPU": "cores sockets cpu cpulimit cpuunits vcpus numa",
    "VM.Config.Memory": "memory balloon shares allow-ksm swap",
    "VM.Config.HWType": "acpi hotplug kvm machine scsihw smbios1 tablet vga watchdog audio0 rng0",
    "VM.Config.Options": (
        "agent autostart bios description keyboard localtime migrate_downtime migrate_speed "
        "name onboot ostype protection reboot startdate startup tdf template tags hostname "
        "arch cmode console tty features timezone entrypoint env"
    ),
    "VM.Config.Disk": "boot bootdisk vmstatestorage rootfs",
    "VM.Config.Cloudinit": (
        "ciuser cipassword citype ciupgrade cicustom nameserver searchdomain sshkeys"
    ),
    "VM.PowerMgmt": "freeze",
}.items():
    for _key in _keys.split():
        _PRIV_BY_KEY[_key] = _priv
_STORAGE_READ = ["Datastore.AllocateSpace", "Datastore.Audit"]
_FAMILY_PRIV = {
    "net": "VM.Config.Network",
    "ipconfig": "VM.Config.Cloudinit",
    "numa": "VM.Config.CPU",
    "ide": "VM.Config.Disk",
    "sata": "VM.Config.Disk",
    "scsi": "VM.Config.Disk",
    "virtio": "VM.Config.Disk",
    "efidisk": "VM.Config.Disk",
    "tpmstate": "VM.Config.Disk",
    "unused": "VM.Config.Disk",
    "mp": "VM.Config.Disk",
    "dev": "VM.Config.Disk",
}


def resolve_guest(ctx: Context, kind: str) -> Guest:
    """The guest addressed by the path, as the node that must hold it sees it."""
    node = ctx.params["node"]
    ctx.require_node(node)
    return ctx.cluster.estate.guest_at(node, int(ctx.params["vmid"]), kind)  # type: ignore[arg-type]


def vm_path(guest_or_vmid: Guest | int) -> str:
    vmid = guest_or_vmid.vmid if isinstance(guest_or_vmid, Guest) else guest_or_vmid
    return f"/vms/{vmid}"


def lock_message(guest: Guest) -> str:
    return f"{guest.noun} is locked ({guest.lock})"


def check_skiplock(ctx: Context) -> bool:
    """``skiplock`` is root@pam-only (a parameter error for everybody else)."""
    if ctx.params.get("skiplock"):
        ctx.check_root("skiplock")
        return True
    return False


def assert_unlocked(ctx: Context, guest: Guest) -> None:
    """Synchronous lock check (HTTP 500 ``VM is locked (x)``)."""
    if guest.lock and not check_skiplock(ctx):
        raise ApiError(500, lock_message(guest))


def task_check_unlocked(guest: Guest, *, skiplock: bool = False) -> Callable[[], None]:
    """A task step that fails the worker when the guest is locked (in-task lock check)."""

    def check() -> None:
        if guest.lock and not skiplock:
            raise TaskError(lock_message(guest))

    return check


def set_lock(guest: Guest, lock: str) -> None:
    guest.config["lock"] = lock


def release_lock(guest: Guest, lock: str) -> Callable[..., None]:
    """``on_fail``/``on_done`` helper that drops ``lock`` if it is still the guest's lock."""

    def release(*_args: Any) -> None:
        if guest.config.get("lock") == lock:
            del guest.config["lock"]

    return release


def task_type(guest: Guest, operation: str) -> str:
    return TASK_TYPES[guest.kind][operation]


def ha_resource(ctx: Context, guest: Guest) -> HAResource | None:
    return ctx.cluster.estate.ha_resource(guest)


def config_value(value: Any) -> str:
    """Typed parameter -> the string PVE writes into the config file."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def config_params(ctx: Context) -> dict[str, str]:
    """Config keys given in the request (``cdrom`` folded into ``ide2``)."""
    values = {
        key: config_value(value)
        for key, value in ctx.params.items()
        if key not in NON_CONFIG_PARAMS
    }
    if "cdrom" in values:
        cdrom = values.pop("cdrom")
        values["ide2"] = cdrom if "media=" in cdrom else f"{cdrom},media=cdrom"
    return values


def check_config_key_perm(ctx: Context, guest_kind: str, vmid: int, key: str, value: str) -> None:
    """Per-key privilege checks of ``check_vm_modify_config_perm`` (qemu) / lxc's twin."""
    user = ctx.user
    path = vm_path(vmid)
    family, index = key_family(key)
    if family in {"usb", "hostpci"} and index is not None:
        _check_device_perm(ctx, key, family, value, path)
        return
    if family == "serial" and index is not None:
        if value != "socket" and not user.is_root:
            raise ModelError(f"only root can set '{key}' config for real devices")
        ctx.check(path, ["VM.Config.HWType"])
        return
    if guest_kind == "qemu" and family in {"ide", "sata", "scsi"} and "media=cdrom" in value:
        ctx.check(path, ["VM.Config.CDROM"])
        return
    priv = _PRIV_BY_KEY.get(key) or (_FAMILY_PRIV.get(family) if index is not None else None)
    if priv is None:
        if not user.is_root:
            raise ModelError(f"only root can set '{key}' config")
        return
    ctx.check(path, [priv])
    if key == "startup":
        ctx.check("/", ["Sys.Modify"])


def _check_device_perm(ctx: Context, key: str, family: str, value: str, path: str) -> None:
    """USB/PCI passthrough: spice and mapped devices for users with the right privileges,
    real host devices for root@pam only."""
    if family == "usb" and (value == "spice" or value.startswith(("spice,", "host=spice"))):
        ctx.check(path, ["VM.Config.HWType"])
        return
    if value.startswith("mapping=") or ",mapping=" in value:
        mapping = value.split("mapping=", 1)[1].split(",", 1)[0]
        ctx.check(f"/mapping/{'usb' if family == 'usb' else 'pci'}/{mapping}", ["Mapping.Use"])
        ctx.check(path, ["VM.Config.HWType"])
        return
    if not ctx.user.is_root:
        what = "real devices" if family == "usb" else "non-mapped devices"
        raise ModelError(f"only root can set '{key}' config for {what}")


_NEW_DISK_RE = re.compile(r"^(?:file=|volume=)?([a-zA-Z][\w\-.]*\w):\d+(?:\.\d+)?(?:,|$)")


def check_volume_params(ctx: Context, *, node: str, values: dict[str, str]) -> None:
    """Storage side of a config change, as ``PVE::Storage::check_volume_access`` and the
    disk allocation code see it: new disks need Datastore.AllocateSpace on their storage;
    CD-ROM media must exist and be visible to the caller."""
    estate = ctx.cluster.estate
    for key, value in values.items():
        family, index = key_family(key)
        if index is None and key != "rootfs":
            continue
        if family not in {"ide", "sata", "scsi", "virtio", "efidisk", "tpmstate", "mp"} and (
            key != "rootfs"
        ):
            continue
        new_disk = _NEW_DISK_RE.match(value)
        if new_disk is not None:
            storage = estate.storage(new_disk.group(1))
            ctx.check(f"/storage/{storage.storage}", ["Datastore.AllocateSpace"])
            if family not in {"mp"} and key != "rootfs" and "images" not in storage.content:
                # qemu-server's $check_storage_access names the storage parameter.
                message = f"storage '{storage.storage}' does not support vm images"
                raise param_error({"storage": message})
            continue
        if "media=cdrom" not in value:
            continue
        volid = value.split(",", 1)[0].removeprefix("file=")
        if ":" not in volid:
            continue  # "none" or "cdrom" (host drive)
        storage = estate.storage(volid.split(":", 1)[0])
        ctx.check(f"/storage/{storage.storage}", _STORAGE_READ, any_=True)
        known = {v.volid for v in estate.stored_volumes(storage, node)}
        if volid not in known:
            # create_disks (qemu-server src/PVE/API2/Qemu.pm): no quotes around the volid.
            raise ModelError(f"volume {volid} does not exist")
