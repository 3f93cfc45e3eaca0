"""Guest creation (incl. ``import-from`` and restore), clone, template, resize and destroy.

A guest being created or cloned exists at once with ``lock: create``/``lock: clone`` (so
lists show it and its vmid is taken) and is unlocked when the task ends; a failed task
removes it again.
"""

from __future__ import annotations

import random
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import (
    TASK_TYPES,
    assert_unlocked,
    check_config_key_perm,
    config_params,
    ha_resource,
    lock_message,
    release_lock,
    resolve_guest,
    task_type,
    vm_path,
)
from pvesim.api.guest_power import guest_start_now
from pvesim.model import Guest, ModelError
from pvesim.model.clusterconf import HAResource
from pvesim.model.config import normalize_tags
from pvesim.model.disks import allocate_disks, resize_option
from pvesim.model.propstring import (
    format_propstring,
    is_lxc_volume_key,
    is_qemu_disk_key,
    key_family,
    nic_model_and_mac,
    parse_option,
    parse_size,
)
from pvesim.model.volumes import base_volname, image_volname, parse_volid, split_volid
from pvesim.tasks import TaskError

_NIC_RNG = random.Random()


def _mac() -> str:
    value = _NIC_RNG.getrandbits(24)
    return f"BC:24:11:{value >> 16:02X}:{(value >> 8) & 0xFF:02X}:{value & 0xFF:02X}"


def _uuid() -> str:
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
            values[key] = f"{model}={mac or _mac()}" + (f",{rest}" if rest else "")
        else:
            parsed = parse_option(key, value)
            parsed.setdefault("hwaddr", _mac())
            parsed.setdefault("type", "veth")
            values[key] = format_propstring(parsed)


def _check_create_allowed(ctx: Context, vmid: int, pool: str | None) -> None:
    if pool is not None:
        if pool not in ctx.cluster.estate.pools:
            raise ApiError(500, f"pool '{pool}' does not exist")
        if ctx.can(f"/pool/{pool}", ["VM.Allocate"]):
            return
    ctx.check(vm_path(vmid), ["VM.Allocate"])


def _taken_message(ctx: Context, vmid: int, node: str) -> str | None:
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
        _check_create_allowed(ctx, vmid, pool)
        if (message := _taken_message(ctx, vmid, node)) is not None:
            raise ApiError(500, message)
    values = config_params(ctx)
    for key, value in values.items():
        check_config_key_perm(ctx, kind, vmid, key, value)
    if "tags" in values:
        try:
            values["tags"] = normalize_tags(values["tags"])
        except ValueError as exc:
            raise param_error({"tags": str(exc)}) from None
    if kind == "lxc":
        _lxc_defaults(ctx, values)
    else:
        _qemu_defaults(ctx, values)
    with_new_macs(kind, values)
    if archive:
        _restore_disks(ctx, kind, vmid, archive, values)
    guest = Guest(vmid=vmid, kind=kind, node=node, config={"lock": "create"})  # type: ignore[arg-type]
    logs = allocate_disks(estate, guest, values)
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


def _qemu_defaults(ctx: Context, values: dict[str, str]) -> None:
    """What ``qm create`` adds on its own: smbios1 uuid, vmgenid, meta, boot order."""
    if "smbios1" not in values:
        values["smbios1"] = f"uuid={_uuid()}"
    if values.get("vmgenid", "1") == "1":
        values["vmgenid"] = _uuid()
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
    if guest.running:
        raise ApiError(500, f"{guest.noun} {guest.vmid} is running - destroy failed")
    skiplock = bool(ctx.params.get("skiplock"))
    if skiplock:
        ctx.check_root("skiplock")

    def check() -> None:
        if guest.lock and not skiplock:
            raise TaskError(lock_message(guest))

    def done() -> None:
        estate.guests.pop(guest.vmid, None)
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


def _clone_disk(
    ctx: Context,
    source: Guest,
    new: Guest,
    key: str,
    value: str,
    *,
    full: bool,
    storage_id: str | None,
) -> str:
    parsed = parse_option(key, value)
    default_key = "file" if source.kind == "qemu" else "volume"
    volid = parsed[default_key]
    info = parse_volid(volid)
    estate = ctx.cluster.estate
    storage = estate.storage(storage_id or info.storage)
    index = int(volid.rsplit("-disk-", 1)[1].split(".")[0]) if "-disk-" in volid else 0
    if full:
        fmt = ctx.params.get("format") or (
            "qcow2" if storage.type in {"dir", "nfs", "cifs"} else "raw"
        )
        volname = image_volname(storage_type=storage.type, vmid=new.vmid, index=index, fmt=fmt)
    else:
        base = (
            info.volname.split("/")[-1] if "/" not in info.volname else info.volname.split("/")[0]
        )
        base = base if base.startswith("base-") else base_volname(base, vmid=source.vmid)
        volname = image_volname(storage_type=storage.type, vmid=new.vmid, index=index, base=base)
    parsed[default_key] = f"{storage.storage}:{volname}"
    return format_propstring(parsed, default_key=default_key)


def clone(ctx: Context, kind: str) -> str:
    """``POST .../clone``: full copy or linked clone of a template; task id = source vmid."""
    source = resolve_guest(ctx, kind)
    ctx.check(vm_path(source), ["VM.Clone"])
    newid = int(ctx.params["newid"])
    pool = ctx.params.get("pool")
    _check_create_allowed(ctx, newid, pool)
    target = ctx.params.get("target") or source.node
    estate = ctx.cluster.estate
    estate.node(target)
    if (message := _taken_message(ctx, newid, target)) is not None:
        raise ApiError(500, message)
    if source.lock:
        raise ApiError(500, lock_message(source))
    full = ctx.params.get("full")
    full = (not source.is_template) if full is None else bool(full)
    if not full:
        if not source.is_template:
            raise ApiError(500, "Linked clone feature is not supported for non-template VMs")
        for param in ("storage", "format"):
            if param in ctx.params:
                raise param_error({param: f"parameter '{param}' not allowed for linked clones"})
    snapname = ctx.params.get("snapname")
    base_config = dict(source.snapshots[snapname]) if snapname else dict(source.config)
    if snapname and snapname not in source.snapshots:
        raise ApiError(500, f"snapshot '{snapname}' does not exist")
    if target != source.node:
        for _key, volid, _parsed in source.volumes():
            storage = estate.storages.get(split_volid(volid)[0])
            if storage is not None and not storage.shared and not ctx.params.get("storage"):
                raise ApiError(500, f"can't clone VM to node '{target}' (VM uses local storage)")
    new = Guest(vmid=newid, kind=kind, node=target, config={})  # type: ignore[arg-type]
    config: dict[str, str] = {}
    for key, value in base_config.items():
        if key in {
            "template",
            "parent",
            "lock",
            "snaptime",
            "vmstate",
            "runningmachine",
            "runningcpu",
            "description",
        }:
            continue
        family, _index = key_family(key)
        if family == "unused":
            continue
        is_disk = is_qemu_disk_key(key) if kind == "qemu" else is_lxc_volume_key(key)
        if is_disk and "media=cdrom" not in value and ":" in value.split(",", 1)[0]:
            config[key] = _clone_disk(
                ctx, source, new, key, value, full=full, storage_id=ctx.params.get("storage")
            )
        else:
            config[key] = value
    for key in [k for k in config if key_family(k)[0] == "net"]:
        if kind == "qemu":
            model, _mac_old = nic_model_and_mac(config[key])
            rest = config[key].split(",", 1)[1] if "," in config[key] else ""
            config[key] = f"{model}={_mac()}" + (f",{rest}" if rest else "")
        else:
            parsed = parse_option(key, config[key])
            parsed["hwaddr"] = _mac()
            config[key] = format_propstring(parsed)
    name_key = "name" if kind == "qemu" else "hostname"
    default_name = f"Copy-of-VM-{source.name}" if kind == "qemu" else f"Copy-of-CT-{source.name}"
    config[name_key] = ctx.params.get(name_key) or ctx.params.get("name") or default_name
    if kind == "qemu":
        config["smbios1"] = f"uuid={_uuid()}"
        if "vmgenid" in config:
            config["vmgenid"] = _uuid()
    if description := ctx.params.get("description"):
        config["description"] = description
    config["lock"] = "clone"
    new.config = config
    new.pool = pool
    estate.guests[newid] = new
    size = sum(_bytes(p.get("size")) for _k, _v, p in source.volumes())
    seconds = 1.0 if not full else max(2.0, size / (400 * 1024**2))
    lines = [
        f"create {'full' if full else 'linked'} clone of drive {k} ({v})"
        for k, v, _p in source.volumes()
    ]

    def done() -> None:
        release_lock(new, "clone")()

    def failed(_message: str) -> None:
        if estate.guests.get(newid) is new:
            del estate.guests[newid]

    return ctx.start_task(
        node=source.node,
        type=task_type(source, "clone"),
        id=source.vmid,
        steps=[(0.5, lines or ()), (seconds, "transferred all data" if full else ())],
        on_done=done,
        on_fail=failed,
    )


def _bytes(text: str | None) -> int:
    try:
        return parse_size(text) if text else 0
    except ValueError:
        return 0


def template(ctx: Context, kind: str) -> str | None:
    """Convert to a template: disks become ``base-`` volumes; irreversible."""
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Allocate"])
    assert_unlocked(ctx, guest)
    if guest.is_template:
        raise ApiError(500, "you can't convert a template to a template")
    if guest.running:
        raise ApiError(
            500,
            f"you can't convert a {'VM' if kind == 'qemu' else 'CT'} to template "
            f"if {'VM' if kind == 'qemu' else 'CT'} is running",
        )

    def convert() -> None:
        for key, volid, parsed in guest.volumes():
            storage_id, volname = split_volid(volid)
            default_key = "file" if "file" in parsed else "volume"
            parsed[default_key] = f"{storage_id}:{base_volname(volname, vmid=guest.vmid)}"
            guest.config[key] = format_propstring(parsed, default_key=default_key)
        guest.config["template"] = "1"

    if kind == "lxc":
        convert()
        return None
    renames = []
    for _key, volid, _parsed in guest.volumes():
        volname = volid.split(":", 1)[1]
        renames.append(f'  Renamed "{volname}" to "{base_volname(volname, vmid=guest.vmid)}"')
    return ctx.start_task(
        node=guest.node,
        type=task_type(guest, "template"),
        id=guest.vmid,
        steps=[(1.0, renames or ())],
        on_done=convert,
    )


def resize(ctx: Context, kind: str) -> Any:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Config.Disk"])
    disk = ctx.params["disk"]
    digest = ctx.params.get("digest")
    if digest and digest != guest.digest():
        raise ApiError(500, "checksum mismatch (file change by other user?)")
    assert_unlocked(ctx, guest)
    if disk not in guest.config:
        raise ApiError(500, f"disk '{disk}' does not exist")
    try:
        value, _old, new_size = resize_option(guest.config[disk], disk, ctx.params["size"])
    except ValueError as exc:
        raise param_error({"size": str(exc)}) from None
    except ModelError:
        raise

    def apply() -> None:
        guest.config[disk] = value

    return ctx.start_task(
        node=guest.node,
        type="resize",
        id=guest.vmid,
        steps=[(0.5, f"resize disk {disk} to {new_size} bytes")],
        on_done=apply,
    )
