"""Snapshots of QEMU and LXC guests: list, create (with or without RAM), rollback, delete."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import (
    lock_message,
    release_lock,
    resolve_guest,
    set_lock,
    task_type,
    vm_path,
)
from pvesim.api.guest_power import guest_start_now, guest_stop_now
from pvesim.model import Guest, ModelError
from pvesim.model.config import typed_config
from pvesim.model.snapshots import (
    snapshot_check_new,
    snapshot_create,
    snapshot_delete,
    snapshot_get,
    snapshot_list,
    snapshot_rollback,
)
from pvesim.model.stats import memory_bytes
from pvesim.model.volumes import state_volname
from pvesim.tasks import TaskError


def snapshots_get(ctx: Context, kind: str) -> list[dict[str, Any]]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Audit"])
    return snapshot_list(guest, digest=guest.digest())


def _locked_task(
    ctx: Context,
    guest: Guest,
    operation: str,
    lock: str,
    steps: list,
    apply: Any,
    precheck: Any = None,
) -> str:
    """A snapshot-family worker: ``precheck`` (checks PVE makes before the lock's), lock
    check and ``lock`` taken at start, released at end."""
    release = release_lock(guest, lock)

    def take_lock() -> None:
        if precheck is not None:
            precheck()
        if guest.lock:
            raise TaskError(lock_message(guest))
        set_lock(guest, lock)

    def done() -> None:
        release()
        apply()

    def failed(_message: str) -> None:
        release()

    return ctx.start_task(
        node=guest.node,
        type=task_type(guest, operation),
        id=guest.vmid,
        steps=[(0.1, (), take_lock), *steps],
        on_done=done,
        on_fail=failed,
    )


def snapshot_post(ctx: Context, kind: str) -> str:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Snapshot"])
    name = ctx.params["snapname"]
    if name in {"current", "pending"}:
        raise ApiError(500, f"unable to use snapshot name '{name}' (reserved name)")
    with_ram = bool(ctx.params.get("vmstate")) and guest.running and kind == "qemu"
    description = ctx.params.get("description", "")
    cluster = ctx.cluster
    vmstate = None
    if with_ram:
        storage_id = guest.config.get("vmstatestorage") or _first_disk_storage(guest)
        storage = cluster.estate.storage(storage_id)
        volname = state_volname(storage_type=storage.type, vmid=guest.vmid, snapname=name)
        vmstate = f"{storage_id}:{volname}"
    steps: list = []
    if with_ram:
        gib = memory_bytes(guest) / 1024**3
        steps.append((0.5, f"saving VM state and RAM using storage '{vmstate.split(':')[0]}'"))
        steps.append((max(1.0, gib), [f"{gib:.2f} GiB in 1s", "completed saving the VM state"]))
    steps.append((1.0, f"snapshotting '{_first_disk_key(guest)}' ({_first_disk_volid(guest)})"))

    def check_name() -> None:
        try:
            snapshot_check_new(guest, name)
        except ModelError as exc:
            raise TaskError(exc.message) from None

    steps.insert(0, (0.1, (), check_name))

    def apply() -> None:
        snapshot_create(
            guest, name=name, description=description, snaptime=int(cluster.now()), vmstate=vmstate
        )

    return _locked_task(ctx, guest, "snapshot", "snapshot", steps, apply)


def _snapshot_exists(guest: Guest, name: str, *, rollback: bool = False) -> Any:
    """The worker's first checks (pve-guest-common ``src/PVE/AbstractConfig.pm``
    ``snapshot_rollback``/``snapshot_delete``): the API forks before looking."""

    def check() -> None:
        if rollback and guest.is_template:
            raise TaskError("you can't rollback if vm is a template")
        if name not in guest.snapshots:
            raise TaskError(f"snapshot '{name}' does not exist")

    return check


def snapshot_rollback_post(ctx: Context, kind: str) -> str:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Snapshot", "VM.Snapshot.Rollback"], any_=True)
    name = ctx.params["snapname"]
    section = guest.snapshots.get(name, {})
    start = bool(ctx.params.get("start"))
    cluster = ctx.cluster

    def apply() -> None:
        guest_stop_now(guest, cluster.now())
        resumed = snapshot_rollback(guest, name)
        if resumed or start:
            guest_start_now(guest, cluster.now())

    steps = [(1.0, f"Rolling back to snapshot '{name}'")]
    if "vmstate" in section:
        steps.append((2.0, "restoring VM state and RAM"))
    precheck = _snapshot_exists(guest, name, rollback=True)
    return _locked_task(ctx, guest, "rollback", "rollback", steps, apply, precheck)


def snapshot_delete_req(ctx: Context, kind: str) -> str:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Snapshot"])
    name = ctx.params["snapname"]
    return _locked_task(
        ctx,
        guest,
        "delsnapshot",
        "snapshot-delete",
        [(1.0, f"delete snapshot '{name}'")],
        lambda: snapshot_delete(guest, name),
        _snapshot_exists(guest, name),
    )


def snapshot_config_get(ctx: Context, kind: str) -> dict[str, Any]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"], any_=True)
    section = dict(snapshot_get(guest, ctx.params["snapname"]))
    result: dict[str, Any] = typed_config(kind, section)
    result["digest"] = guest.digest()
    return result


def snapshot_config_put(ctx: Context, kind: str) -> None:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Snapshot"])
    section = snapshot_get(guest, ctx.params["snapname"])
    if "description" in ctx.params:
        description = ctx.params["description"]
        if description:
            section["description"] = description
        else:
            section.pop("description", None)
    if guest.lock:
        raise ApiError(500, lock_message(guest))
    return None


def _first_disk_key(guest: Guest) -> str:
    keys = guest.volume_keys()
    return keys[0] if keys else "rootfs"


def _first_disk_volid(guest: Guest) -> str:
    volumes = guest.volumes()
    return volumes[0][1] if volumes else ""


def _first_disk_storage(guest: Guest) -> str:
    volid = _first_disk_volid(guest)
    return volid.split(":", 1)[0] if volid else "local"
