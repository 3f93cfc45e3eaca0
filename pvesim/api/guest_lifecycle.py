"""Clone (full, or linked from a template), template conversion and disk resize.

A clone exists at once with ``lock: clone`` and is unlocked when the task ends; a failed
task removes it again.
"""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import (
    assert_unlocked,
    check_skiplock,
    lock_message,
    release_lock,
    resolve_guest,
    task_type,
    vm_path,
)
from pvesim.api.guest_create import check_create_allowed, new_mac, new_uuid, taken_message
from pvesim.model import Guest, ModelError
from pvesim.model.disks import resize_option
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
    check_create_allowed(ctx, newid, pool)
    target = ctx.params.get("target") or source.node
    estate = ctx.cluster.estate
    estate.node(target)
    if (message := taken_message(ctx, newid, target)) is not None:
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
            config[key] = f"{model}={new_mac()}" + (f",{rest}" if rest else "")
        else:
            parsed = parse_option(key, config[key])
            parsed["hwaddr"] = new_mac()
            config[key] = format_propstring(parsed)
    name_key = "name" if kind == "qemu" else "hostname"
    default_name = f"Copy-of-VM-{source.name}" if kind == "qemu" else f"Copy-of-CT-{source.name}"
    config[name_key] = ctx.params.get(name_key) or ctx.params.get("name") or default_name
    if kind == "qemu":
        config["smbios1"] = f"uuid={new_uuid()}"
        if "vmgenid" in config:
            config["vmgenid"] = new_uuid()
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
    # The checks (and words) of qemu-server's and pve-container's template API, in order.
    assert_unlocked(ctx, guest)
    if guest.snapshots:
        raise ApiError(500, f"unable to create template, because {guest.noun} contains snapshots")
    if guest.is_template:
        raise ApiError(500, "you can't convert a template to a template")
    if guest.running:
        running = "if VM is running" if kind == "qemu" else "if the CT is running"
        raise ApiError(500, f"you can't convert a {guest.noun} to template {running}")

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


_STALE_CT = "detected modified configuration - file changed by other user? Try again."


def _resize_checked(guest: Guest, *, disk: str, size: str) -> tuple[str, int]:
    """PVE's resize checks in its order and words (qemu-server ``src/PVE/API2/Qemu.pm`` and
    pve-container ``src/PVE/API2/LXC.pm`` ``resize_vm``); the new option and size, or
    ModelError. The lock is checked by the caller (qemu: after the digest)."""
    if disk not in guest.config:
        raise ModelError(f"disk '{disk}' does not exist")
    try:
        value, old, new = resize_option(guest.config[disk], disk, size)
    except ValueError as exc:
        raise param_error({"size": str(exc)}) from None
    if new < old:
        shrink = (
            "shrinking disks is not supported"
            if guest.kind == "qemu"
            else "unable to shrink disk size"
        )
        raise ModelError(shrink)
    if new == old and guest.kind == "lxc":
        raise ModelError("disk is already at specified size")
    return value, new


def resize(ctx: Context, kind: str) -> Any:
    """``PUT .../resize``: a container is checked before the worker forks, a VM only inside
    it (its errors fail the task; an unchanged size is a no-op)."""
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Config.Disk"])
    disk, size, digest = ctx.params["disk"], ctx.params["size"], ctx.params.get("digest")
    if kind == "lxc":
        assert_unlocked(ctx, guest)
        if digest and digest != guest.digest():
            raise ApiError(500, _STALE_CT)
        value, new_size = _resize_checked(guest, disk=disk, size=size)
        planned: dict[str, Any] = {"value": value}
        steps: list = [(0.5, f"resize disk {disk} to {new_size} bytes")]
    else:
        skiplock = check_skiplock(ctx)
        planned = {}

        def check() -> None:
            if digest and digest != guest.digest():
                raise TaskError("checksum mismatch (file change by other user?)")
            if guest.lock and not skiplock:
                raise TaskError(lock_message(guest))
            try:
                planned["value"], planned["size"] = _resize_checked(guest, disk=disk, size=size)
            except ModelError as exc:
                raise TaskError(str(exc)) from None

        steps = [(0.0, (), check), (0.5, ())]

    def apply() -> None:
        guest.config[disk] = planned["value"]

    return ctx.start_task(node=guest.node, type="resize", id=guest.vmid, steps=steps, on_done=apply)
