"""Guest creation (incl. ``import-from`` and restore) and destruction.

A guest being created exists at once with ``lock: create`` (so lists show it and its vmid
is taken) and is unlocked when the task ends; a failed task removes it again.
"""

from __future__ import annotations

import random

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import (
    TASK_TYPES,
    check_config_key_perm,
    check_volume_params,
    config_params,
    ha_resource,
    lock_message,
    resolve_guest,
    task_type,
    vm_path,
)
from pvesim.api.guest_power import guest_start_now
from pvesim.api.guest_tags import assert_tag_permissions
from pvesim.model import Guest
from pvesim.model.clusterconf import HAResource
from pvesim.model.config import normalize_tags
from pvesim.model.disks import allocate_disks
from pvesim.model.errors import WorkerError
from pvesim.model.propstring import (
    format_propstring,
    is_qemu_disk_key,
    key_family,
    nic_model_and_mac,
    parse_option,
)
from pvesim.model.volumes import split_volid
from pvesim.tasks import TaskError

_NIC_RNG = random.Random()


def new_mac() -> str:
    """A random MAC with the BC:24:11 prefix PVE uses by default."""
    value = _NIC_RNG.getrandbits(24)
    return f"BC:24:11:{value >> 16:02X}:{(value >> 8) & 0xFF:02X}:{value & 0xFF:02X}"


def new_uuid() -> str:
    """A random version-4 UUID (smbios1 uuid, vmgenid)."""
    text = f"{_NIC_RNG.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"


def with_new_macs(kind: str, values: dict[str, str]) -> None:
    """Give every NIC without a MAC a fresh one (PVE's BC:24:11 prefix)."""
    for key, value in list(values.items()):
        family, index = key_family(key)
        if family != "net" or index is None:
            continue
        if kind == "qemu":
            model, mac = nic_model_and_mac(value)
            rest = value.split(",", 1)[1] if "," in value else ""
            if "=" not in value.split(",", 1)[0] and value.split(",", 1)[0] != model:
                continue
            values[key] = f"{model}={mac or new_mac()}" + (f",{rest}" if rest else "")
        else:
            parsed = parse_option(key, value)
            parsed.setdefault("hwaddr", new_mac())
            parsed.setdefault("type", "veth")
            values[key] = format_propstring(parsed)


def check_create_allowed(ctx: Context, vmid: int, pool: str | None) -> None:
    if pool is not None:
        if pool not in ctx.cluster.estate.pools:
            # RPCEnvironment::check_pool_exist raises a permission exception.
            raise ApiError(403, f"Permission check failed (pool '{pool}' does not exist)")
        if ctx.can(f"/pool/{pool}", ["VM.Allocate"]):
            return
    ctx.check(vm_path(vmid), ["VM.Allocate"])


def taken_message(ctx: Context, vmid: int, node: str) -> str | None:
    """Why a clone cannot take ``vmid``: qemu-server's clone_vm checks the config file."""
    guest = ctx.cluster.estate.guests.get(vmid)
    if guest is None:
        return None
    if guest.node == node:
        return f"unable to create VM {vmid}: config file already exists"
    return f"VM {vmid} already exists on node '{guest.node}'"


def create(ctx: Context, kind: str) -> str:
    """``POST /nodes/{node}/qemu`` and ``.../lxc``: create or restore."""
    node = ctx.params["node"]
    ctx.require_node(node)
    vmid = int(ctx.params["vmid"])
    pool = ctx.params.get("pool")
    archive = ctx.params.get("archive") or (
        ctx.params.get("ostemplate") if ctx.params.get("restore") else None
    )
    estate = ctx.cluster.estate
    if archive and ctx.params.get("force") and vmid in estate.guests:
        ctx.check(vm_path(vmid), ["VM.Backup"])
    else:
        check_create_allowed(ctx, vmid, pool)
        if (taken := estate.guests.get(vmid)) is not None:
            # create_and_lock_config -> PVE::Cluster::check_vmid_unused, behind create_vm's
            # "$emsg" (qemu-server src/PVE/API2/Qemu.pm, pve-container src/PVE/API2/LXC.pm).
            verb = "restore" if archive else "create"
            noun = "VM" if kind == "qemu" else "CT"
            raise ApiError(
                500,
                f"unable to {verb} {noun} {vmid} - "
                f"{taken.noun} {vmid} already exists on node '{taken.node}'",
            )
    values = config_params(ctx)
    for key, value in values.items():
        check_config_key_perm(ctx, kind, vmid, key, value)
    check_volume_params(ctx, node=node, values=values)
    if "tags" in values:
        try:
            values["tags"] = normalize_tags(values["tags"])
        except ValueError as exc:
            raise param_error({"tags": str(exc)}) from None
        assert_tag_permissions(ctx, None, values["tags"])
    if kind == "lxc":
        _lxc_defaults(ctx, values)
    else:
        _qemu_defaults(ctx, values)
    with_new_macs(kind, values)
    if archive:
        _restore_disks(ctx, kind, vmid, archive, values)
    guest = Guest(vmid=vmid, kind=kind, node=node, config={"lock": "create"})  # type: ignore[arg-type]
    guest.previous_status, guest.status_changed_at = "unknown", ctx.now
    try:
        logs = allocate_disks(estate, guest, values)
    except WorkerError as exc:
        if kind != "qemu":
            raise
        return _failing_create(ctx, guest, f"unable to create VM {vmid} - {exc.message}")
    guest.config.update(values)
    if pool is not None:
        guest.pool = pool
    estate.guests[vmid] = guest
    start = bool(ctx.params.get("start"))
    ha_managed = bool(ctx.params.get("ha-managed"))
    cluster = ctx.cluster

    def done() -> None:
        guest.config.pop("lock", None)
        if ha_managed:
            sid = f"{'vm' if kind == 'qemu' else 'ct'}:{vmid}"
            state = "started" if start else "stopped"
            estate.ha_resources[sid] = HAResource(sid=sid, state=state, crm_state=state)
        if start:
            guest_start_now(guest, cluster.now())

    def failed(_message: str) -> None:
        if estate.guests.get(vmid) is guest:
            del estate.guests[vmid]

    operation = "restore" if archive else "create"
    if archive:
        logs = [f"restore vma archive: {archive}", *logs, "rescan volumes..."]
    return ctx.start_task(
        node=node,
        type=TASK_TYPES[kind][operation],
        id=vmid,
        steps=[(1.0, logs or ()), (2.0, ())],
        on_done=done,
        on_fail=failed,
    )


def _failing_create(ctx: Context, guest: Guest, message: str) -> str:
    """qemu-server's create worker dies in ``create_disks`` (create_vm's ``$emsg``): the
    guest exists locked ``create`` until the task removes it again."""
    estate = ctx.cluster.estate
    estate.guests[guest.vmid] = guest

    def fail() -> None:
        raise TaskError(message)

    def failed(_message: str) -> None:
        if estate.guests.get(guest.vmid) is guest:
            del estate.guests[guest.vmid]

    return ctx.start_task(
        node=guest.node,
        type=TASK_TYPES["qemu"]["create"],
        id=guest.vmid,
        steps=[(1.0, (), fail)],
        on_fail=failed,
    )


def _qemu_defaults(ctx: Context, values: dict[str, str]) -> None:
    """What ``qm create`` adds on its own: smbios1 uuid, vmgenid, meta, boot order."""
    if "smbios1" not in values:
        values["smbios1"] = f"uuid={new_uuid()}"
    if values.get("vmgenid", "1") == "1":
        values["vmgenid"] = new_uuid()
    elif values.get("vmgenid") == "0":
        del values["vmgenid"]
    values["meta"] = f"creation-qemu=9.2.0,ctime={int(ctx.now)}"
    if "boot" not in values:
        disks = [k for k in values if is_qemu_disk_key(k)] + [k for k in values if k == "net0"]
        if disks:
            values["boot"] = "order=" + ";".join(sorted(disks))


def _lxc_defaults(ctx: Context, values: dict[str, str]) -> None:
    template = ctx.params.get("ostemplate", "")
    values.pop("password", None)
    if "rootfs" not in values:
        values["rootfs"] = f"{ctx.params.get('storage', 'local')}:4"
    values.setdefault("arch", "amd64")
    values.setdefault("memory", "512")
    values.setdefault("swap", "512")
    if "ostype" not in values and template:
        name = template.split("/")[-1]
        for ostype in ("debian", "ubuntu", "alpine", "centos", "rockylinux", "archlinux", "fedora"):
            if name.startswith(ostype):
                values["ostype"] = ostype
                break
        else:
            values["ostype"] = "unmanaged"
    if template and not ctx.params.get("restore"):
        storage_id, _ = split_volid(template)
        storage = ctx.cluster.estate.storage(storage_id)
        stored = {v.volid for v in ctx.cluster.estate.stored_volumes(storage, ctx.params["node"])}
        if template not in stored:
            raise ApiError(500, f"volume '{template}' does not exist")


def _restore_disks(
    ctx: Context, kind: str, vmid: int, archive: str, values: dict[str, str]
) -> None:
    """A restore gets a boot disk as large as the backup on the requested storage."""
    storage_id, _ = split_volid(archive)
    estate = ctx.cluster.estate
    storage = estate.storage(storage_id)
    volume = next(
        (v for v in estate.stored_volumes(storage, ctx.params["node"]) if v.volid == archive), None
    )
    if volume is None:
        raise ApiError(500, f"volume '{archive}' does not exist")
    target = ctx.params.get("storage") or (
        "local-lvm" if "local-lvm" in estate.storages else "local"
    )
    gib = max(1, volume.size // 1024**3 * 2)
    key = "scsi0" if kind == "qemu" else "rootfs"
    values.setdefault(key, f"{target}:{gib}")
    if kind == "qemu":
        values.setdefault("name", f"restored-{vmid}")
        values.setdefault("memory", "2048")
        values.setdefault("scsihw", "virtio-scsi-single")
        values.setdefault("net0", "virtio,bridge=vmbr0")
        with_new_macs(kind, values)


def destroy(ctx: Context, kind: str) -> str:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Allocate"])
    estate = ctx.cluster.estate
    if guest.config.get("protection") == "1":
        raise ApiError(500, f"can't remove {guest.noun} {guest.vmid} - protection mode enabled")
    resource = ha_resource(ctx, guest)
    purge = bool(ctx.params.get("purge"))
    if resource is not None and not purge:
        raise ApiError(
            500,
            f"unable to remove {guest.noun} {guest.vmid} - used in HA resources and purge "
            "parameter not set.",
        )
    skiplock = bool(ctx.params.get("skiplock"))
    if skiplock:
        ctx.check_root("skiplock")
    if kind == "lxc":
        # pve-container's early checks (src/PVE/API2/LXC.pm destroy_vm): its lock before
        # forking, and its own words for a running container.
        if guest.lock:
            raise ApiError(500, lock_message(guest))
        if guest.running and not ctx.params.get("force"):
            raise ApiError(500, f"unable to destroy CT {guest.vmid} - container is running")
    elif guest.running:
        raise ApiError(500, f"VM {guest.vmid} is running - destroy failed")

    def check() -> None:
        # destroy_vm lets a hibernated VM (lock 'suspended') go (qemu-server QemuServer.pm).
        if guest.lock and not skiplock and guest.lock != "suspended":
            raise TaskError(lock_message(guest))

    def done() -> None:
        estate.guests.pop(guest.vmid, None)
        _forget_vm_acls(ctx, guest.vmid)
        if purge:
            estate.ha_resources.pop(f"{'vm' if kind == 'qemu' else 'ct'}:{guest.vmid}", None)
            for job in estate.backup_jobs.values():
                if "vmid" in job:
                    ids = [v for v in job["vmid"].split(",") if v and v != str(guest.vmid)]
                    job["vmid"] = ",".join(ids)

    lines = [
        f"Removing image: 100% complete...done. ({volid})" for _k, volid, _p in guest.volumes()
    ]
    return ctx.start_task(
        node=guest.node,
        type=task_type(guest, "destroy"),
        id=guest.vmid,
        steps=[(0.2, (), check), (1.5, lines or ())],
        on_done=done,
    )


def _forget_vm_acls(ctx: Context, vmid: int) -> None:
    """PVE drops the VM-specific permissions of a destroyed guest."""
    access = ctx.cluster.access
    for entry in list(access.acl_by_path().get(f"/vms/{vmid}", [])):
        access.acl_delete(path=entry.path, type=entry.type, ugid=entry.ugid, roleid=entry.roleid)
