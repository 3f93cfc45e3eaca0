"""Guest list, status, config read/update and pending view (QEMU and LXC alike)."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import (
    assert_unlocked,
    check_config_key_perm,
    check_skiplock,
    check_volume_params,
    config_params,
    ha_resource,
    lock_message,
    resolve_guest,
    task_type,
    vm_path,
)
from pvesim.api.guest_tags import assert_tag_permissions
from pvesim.model import Guest
from pvesim.model.changes import config_update, config_update_check
from pvesim.model.config import normalize_tags, split_list, typed_config
from pvesim.model.disks import allocate_disks
from pvesim.model.snapshots import snapshot_get
from pvesim.model.stats import guest_stats
from pvesim.tasks import TaskError


def ha_status(ctx: Context, guest: Guest) -> dict[str, Any]:
    resource = ha_resource(ctx, guest)
    if resource is None:
        return {"managed": 0}
    status: dict[str, Any] = {"managed": 1, "state": resource.crm_state}
    if resource.group:
        status["group"] = resource.group
    return status


def agent_enabled(guest: Guest) -> bool:
    """``agent: 1`` / ``agent: enabled=1,...`` in the (qemu) config."""
    first = guest.config.get("agent", "0").split(",", 1)[0]
    return first in {"1", "enabled=1"}


def list_item(ctx: Context, guest: Guest, *, full: bool = False) -> dict[str, Any]:
    """One item of ``GET /nodes/{node}/qemu`` / ``.../lxc``."""
    stats = guest_stats(guest, ctx.now)
    item: dict[str, Any] = {
        "vmid": guest.vmid,
        "name": guest.name,
        "status": guest.status,
        "cpus": stats["maxcpu"],
        **{k: stats[k] for k in ("cpu", "mem", "maxmem", "disk", "maxdisk", "uptime")},
        **{k: stats[k] for k in ("netin", "netout", "diskread", "diskwrite")},
    }
    if guest.kind == "lxc":
        item["type"] = "lxc"
        swap = int(guest.config.get("swap", "512")) * 1024**2
        item["maxswap"] = swap
        item["swap"] = 0
    if guest.running:
        item["pid"] = guest.pid
        if guest.kind == "qemu" and full:
            item["qmpstatus"] = "paused" if guest.paused else "running"
    if guest.is_template:
        item["template"] = 1
    if guest.lock:
        item["lock"] = guest.lock
    if tags := guest.config.get("tags"):
        item["tags"] = tags
    return item


def guest_list(ctx: Context, kind: str) -> list[dict[str, Any]]:
    node = ctx.params["node"]
    ctx.require_node(node)
    full = bool(ctx.params.get("full"))
    return [
        list_item(ctx, guest, full=full)
        for guest in ctx.cluster.estate.node_guests(node)
        if guest.kind == kind and ctx.can(vm_path(guest), ["VM.Audit"])
    ]


def status_current(ctx: Context, kind: str) -> dict[str, Any]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Audit"])
    item = list_item(ctx, guest, full=True)
    item["ha"] = ha_status(ctx, guest)
    if kind == "qemu":
        item["qmpstatus"] = "paused" if guest.paused else guest.status
        item["agent"] = 1 if agent_enabled(guest) else 0
        if guest.running:
            item["running-machine"] = guest.config.get("machine", "pc-i440fx-9.2+pve1")
            item["running-qemu"] = "9.2.0"
    return item


def config_get(ctx: Context, kind: str) -> dict[str, Any]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Audit"])
    snapname = ctx.params.get("snapname") or ctx.params.get("snapshot")
    if snapname:
        section = dict(snapshot_get(guest, snapname))
    elif ctx.params.get("current"):
        section = dict(guest.config)
    else:
        section = guest.effective_config()
    result: dict[str, Any] = typed_config(kind, section)
    result["digest"] = guest.digest()
    return result


def pending_get(ctx: Context, kind: str) -> list[dict[str, Any]]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Audit"])
    return guest.pending_items()


def prepare_update(ctx: Context, guest: Guest) -> tuple[dict[str, str], list[str], list[str]]:
    """Synchronous part of a config update: parse, validate, check digest and permissions."""
    values = config_params(ctx)
    delete = split_list(ctx.params.get("delete", ""))
    revert = split_list(ctx.params.get("revert", ""))
    if guest.kind == "lxc" and "name" in values:
        values["hostname"] = values.pop("name")
    if not values and not delete and not revert:
        raise ApiError(500, "no options specified")
    config_update_check(values=values, delete=delete, revert=revert)
    if "tags" in values:
        try:
            values["tags"] = normalize_tags(values["tags"])
        except ValueError as exc:
            raise param_error({"tags": str(exc)}) from None
    digest = ctx.params.get("digest")
    if digest and digest != guest.digest():
        raise ApiError(500, "checksum mismatch (file change by other user?)")
    for key, value in values.items():
        check_config_key_perm(ctx, guest.kind, guest.vmid, key, value)
    check_volume_params(ctx, node=guest.node, values=values)
    for key in [*delete, *revert]:
        current = guest.pending.get(key) or guest.config.get(key, "")
        check_config_key_perm(ctx, guest.kind, guest.vmid, key, current)
    if "tags" in values or "tags" in delete:
        assert_tag_permissions(ctx, guest.config.get("tags"), values.get("tags"))
    return values, delete, revert


def apply_update(
    ctx: Context, guest: Guest, values: dict[str, str], delete: list[str], revert: list[str]
) -> list[str]:
    """Allocate requested disks and apply the change; returns log lines and warnings."""
    logs = allocate_disks(ctx.cluster.estate, guest, values)
    warnings = config_update(
        guest, values=values, delete=delete, revert=revert, force=bool(ctx.params.get("force"))
    )
    return logs + warnings


def config_put(ctx: Context, kind: str) -> None:
    """Synchronous update (``PUT .../config``): every failure is an HTTP error."""
    guest = resolve_guest(ctx, kind)
    values, delete, revert = prepare_update(ctx, guest)
    assert_unlocked(ctx, guest)
    apply_update(ctx, guest, values, delete, revert)
    return None


def config_post(ctx: Context) -> str:
    """Asynchronous update (``POST /nodes/{node}/qemu/{vmid}/config``, a ``qmconfig`` task)."""
    guest = resolve_guest(ctx, "qemu")
    values, delete, revert = prepare_update(ctx, guest)
    skiplock = check_skiplock(ctx)
    task = None

    def run() -> None:
        if guest.lock and not skiplock:
            raise TaskError(lock_message(guest))
        lines = apply_update(ctx, guest, values, delete, revert)
        if task is not None:
            task.lines.extend(lines)
            task.warnings += sum(1 for line in lines if line.startswith("cannot delete"))

    task = ctx.start_task_obj(
        node=guest.node,
        type=task_type(guest, "config"),
        id=guest.vmid,
        steps=[(0.5, f"update VM {guest.vmid}: " + _describe(values, delete), run)],
    )
    return task.upid


def _describe(values: dict[str, str], delete: list[str]) -> str:
    parts = [f"-{key} {value}" for key, value in values.items()]
    if delete:
        parts.append("-delete " + ",".join(delete))
    return " ".join(parts)
