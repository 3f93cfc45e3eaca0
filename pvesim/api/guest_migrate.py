"""Migration (precondition GET, POST, remote) and clone for QEMU and LXC.

During a migration the config carries ``lock: migrate``; the guest moves to the target node
only when the task ends. Local devices, unusable storages, offline targets and HA rules fail
inside the task (``TASK ERROR: migration aborted``) with the reason in the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import (
    assert_unlocked,
    ha_resource,
    lock_message,
    release_lock,
    resolve_guest,
    set_lock,
    task_type,
    vm_path,
)
from pvesim.api.guest_power import HA_CRM_DELAY
from pvesim.cluster import Cluster
from pvesim.model import Guest
from pvesim.model.clusterconf import HAResource
from pvesim.model.ha import ha_forbidden_reason, ha_partners_on
from pvesim.model.locality import (
    local_disks,
    local_resources,
    parse_storage_map,
    relocate_volumes,
    unavailable_storages,
)
from pvesim.model.stats import memory_bytes
from pvesim.tasks import TaskError

_GIB = 1024**3
LIVE_RATE = 1.0 * _GIB  # bytes/s of RAM transfer
DISK_RATE = 0.5 * _GIB  # bytes/s of local disk copy


def migrate_preconditions(ctx: Context, kind: str) -> dict[str, Any]:
    """``GET .../migrate``; LXC has it only since PVE 9, with dashed keys."""
    if kind == "lxc" and ctx.cluster.profile.major < 9:
        raise ApiError(501, f"Method 'GET {ctx.path}' not implemented")
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Migrate"])
    if guest.lock:
        raise ApiError(500, lock_message(guest))
    estate = ctx.cluster.estate
    resources = local_resources(guest)
    sid = f"{'vm' if kind == 'qemu' else 'ct'}:{guest.vmid}"
    managed = sid in estate.ha_resources
    allowed: list[str] = []
    not_allowed: dict[str, dict[str, Any]] = {}
    for name in estate.nodes:
        if name == guest.node:
            continue
        blockers: dict[str, Any] = {}
        storages = unavailable_storages(estate, guest, name)
        if storages:
            blockers["unavailable_storages"] = storages
        if resources:
            blockers["unavailable-resources"] = list(resources)
        if managed:
            reasons = []
            if ha_forbidden_reason(estate, sid, name):
                reasons.append({"sid": sid, "cause": "node-affinity"})
            reasons.extend(
                {"sid": other, "cause": "resource-affinity"}
                for other in ha_partners_on(estate, sid, name)
            )
            if reasons:
                blockers["blocking-ha-resources"] = reasons
        if blockers:
            not_allowed[name] = blockers
        else:
            allowed.append(name)
    if kind == "lxc":
        return {
            "running": 1 if guest.running else 0,
            "allowed-nodes": allowed,
            "not-allowed-nodes": not_allowed,
        }
    return {
        "running": 1 if guest.running else 0,
        "allowed_nodes": allowed,
        "not_allowed_nodes": not_allowed,
        "local_disks": local_disks(estate, guest),
        "local_resources": resources,
        "mapped-resources": [],
        "mapped-resource-info": {},
        "has-dbus-vmstate": 1,
        "dependent-ha-resources": [],
    }


def duration_text(seconds: float) -> str:
    """``HH:MM:SS`` as migration logs write durations."""
    return time.strftime("%H:%M:%S", time.gmtime(max(0, int(seconds))))


def _prepare_problem(
    cluster: Cluster,
    guest: Guest,
    target: str,
    *,
    moving: bool,
    with_local_disks: bool,
    storage_map: dict[str, str] | None,
) -> str | None:
    """What the worker's ``prepare`` finds wrong, first problem first."""
    estate = cluster.estate
    if not estate.nodes[target].online:
        return "Can't connect to destination address using public key"
    if resources := local_resources(guest):
        return f"can't migrate VM which uses local devices: {', '.join(resources)}"
    if storages := unavailable_storages(estate, guest, target, storage_map):
        return f"storage '{storages[0]}' is not available on node '{target}'"
    if (
        moving
        and guest.kind == "qemu"
        and not with_local_disks
        and any(not d["cdrom"] for d in local_disks(estate, guest))
    ):
        return "can't live migrate attached local disks without with-local-disks option"
    return None


def migration_steps(
    cluster: Cluster,
    guest: Guest,
    target: str,
    *,
    online: bool,
    with_local_disks: bool,
    log: list[str],
    storage_map: dict[str, str] | None = None,
    refuse: str | None = None,
) -> tuple[list, float]:
    """The steps of a ``qmigrate``/``vzmigrate`` worker and its total duration.

    ``log`` is the task's line list: an abort writes PVE's ``ERROR: migration aborted
    (duration ...): <reason>`` line there before the task ends with ``migration aborted``.
    ``refuse`` is a reason the worker's ``prepare`` finds before anything else.
    """
    estate = cluster.estate
    node = estate.nodes[target]
    moving = online and guest.running

    def prepare() -> None:
        problem = refuse or _prepare_problem(
            cluster,
            guest,
            target,
            moving=moving,
            with_local_disks=with_local_disks,
            storage_map=storage_map,
        )
        if problem is not None:
            log.append(f"ERROR: migration aborted (duration 00:00:00): {problem}")
            raise TaskError("migration aborted")

    disks = [d for d in local_disks(estate, guest) if not d["cdrom"]]
    disk_seconds = sum(d["size"] for d in disks) / DISK_RATE
    ram_seconds = memory_bytes(guest) / LIVE_RATE if moving else 0.0
    total = 1.0 + disk_seconds + ram_seconds
    head = f"starting migration of {guest.noun} {guest.vmid} to node '{target}' ({node.ip})"
    steps: list = [(0.5, head, prepare)]
    if disks:
        lines = [f"found local disk '{d['volid']}' (attached)" for d in disks]
        steps.append((0.1, lines))
        steps.append((max(disk_seconds, 0.1), "copying local disk images"))
    if moving:
        steps.append(
            (
                0.2,
                [
                    f"starting VM {guest.vmid} on remote node '{target}'",
                    "start remote tunnel",
                    "ssh tunnel ver 1",
                    "starting online/live migration",
                ],
            )
        )
        gib = memory_bytes(guest) / _GIB
        steps.append(
            (
                max(ram_seconds, 0.2),
                [
                    f"migration active, transferred {gib:.1f} GiB of {gib:.1f} GiB VM-state",
                    "migration status: completed",
                ],
            )
        )
    steps.append((0.2, f"migration finished successfully (duration {duration_text(total)})"))
    return steps, total


def migrate_start(
    cluster: Cluster,
    guest: Guest,
    target: str,
    *,
    user: str,
    online: bool,
    with_local_disks: bool,
    now: float,
    delay: float = 0.0,
    on_done: Callable[[], None] | None = None,
    storage_map: dict[str, str] | None = None,
    refuse: str | None = None,
) -> str:
    """Start the migration worker (API, HA LRM after ``delay``, control API).

    A guest locked already (only containers get this far: pve-container checks the lock
    in the worker's ``prepare``) keeps its lock and the worker aborts on it."""
    lines: list[str] = []
    locked = lock_message(guest) if guest.lock else None
    steps, _ = migration_steps(
        cluster,
        guest,
        target,
        online=online,
        with_local_disks=with_local_disks,
        log=lines,
        storage_map=storage_map,
        refuse=locked or refuse,
    )
    if delay:
        steps.insert(0, (delay, ()))
    if locked is None:
        set_lock(guest, "migrate")
    release = release_lock(guest, "migrate")

    def done() -> None:
        release()
        guest.node = target
        if storage_map:
            relocate_volumes(cluster.estate, guest, storage_map)
        if on_done is not None:
            on_done()

    def failed(_message: str) -> None:
        release()
        if on_done is not None:
            on_done()

    task = cluster.tasks.start(
        now=now,
        node=guest.node,
        type=task_type(guest, "migrate"),
        id=str(guest.vmid),
        user=user,
        steps=steps,
        on_done=done,
        on_fail=failed,
        boot_time=cluster.estate.nodes[guest.node].boot_time or None,
    )
    # The abort line must land in this task's log, before ``TASK ERROR``.
    task.lines = lines
    return task.upid


def crm_move_start(
    cluster: Cluster,
    guest: Guest,
    resource: HAResource,
    target: str,
    *,
    now: float,
    relocate: bool = False,
) -> str:
    """The HA CRM moves ``resource``'s guest: the LRM runs the worker as root@pam one CRM
    round later, and the resource reads ``migrate`` (``relocate``: stopped, moved, started)
    until it ends."""
    resource.crm_state = "relocate" if relocate else "migrate"

    def settled() -> None:
        resource.crm_state = resource.state

    return migrate_start(
        cluster,
        guest,
        target,
        user="root@pam",
        online=guest.running and not relocate,
        with_local_disks=False,
        now=now,
        delay=HA_CRM_DELAY,
        on_done=settled,
    )


def migrate(ctx: Context, kind: str) -> str:
    """``POST .../migrate``."""
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Migrate"])
    target = ctx.params["target"]
    for param in ("force", "migration_type", "migration_network"):
        if param in ctx.params:
            ctx.check_root(param)
    if target == guest.node:
        raise param_error({"target": "target is local node."})
    ctx.cluster.estate.node(target)
    online, restart = bool(ctx.params.get("online")), bool(ctx.params.get("restart"))
    refuse = None
    if kind == "qemu":
        assert_unlocked(ctx, guest)
        if guest.running and not online:
            raise ApiError(500, "can't migrate running VM without --online")
    elif guest.running:
        # pve-container's migrate_vm (src/PVE/API2/LXC.pm); LXC::Migrate::prepare then
        # refuses a live migration: only restart mode moves a running container.
        if not online and not restart:
            raise ApiError(500, "can't migrate running container without --online or --restart")
        if not restart:
            refuse = "lxc live migration is currently not implemented"
    storage_map = parse_storage_map(
        ctx.params.get("targetstorage") or ctx.params.get("target-storage")
    )
    if kind == "qemu" and (
        missing := unavailable_storages(ctx.cluster.estate, guest, target, storage_map)
    ):
        # qemu-server checks the storages before forking (check_storage_availability /
        # $check_storage_access_migrate); pve-container only in its worker.
        raise ApiError(500, f"storage '{missing[0]}' is not available on node '{target}'")
    resource = ha_resource(ctx, guest)
    if resource is not None:
        return _ha_migrate(ctx, guest, target)
    return migrate_start(
        ctx.cluster,
        guest,
        target,
        user=ctx.user.full,
        online=online or restart,
        with_local_disks=bool(ctx.params.get("with-local-disks")),
        now=ctx.now,
        storage_map=storage_map,
        refuse=refuse,
    )


def _ha_migrate(ctx: Context, guest: Guest, target: str) -> str:
    """``hamigrate``: hand the request to the CRM, which honours node affinity; the LRM
    runs the real migration worker (as root@pam) one CRM round later."""
    cluster = ctx.cluster
    estate = cluster.estate
    sid = f"{'vm' if guest.kind == 'qemu' else 'ct'}:{guest.vmid}"
    resource = estate.ha_resources[sid]

    def request() -> None:
        reason = ha_forbidden_reason(estate, sid, target)
        if reason is not None:
            raise TaskError(f"service '{sid}' is not allowed on node '{target}' ({reason})")
        if not estate.nodes[target].online:
            raise TaskError(f"node '{target}' is not online")

    def done() -> None:
        crm_move_start(cluster, guest, resource, target, now=cluster.now())

    return ctx.start_task(
        node=guest.node,
        type="hamigrate",
        id=guest.vmid,
        on_done=done,
        steps=[
            (
                0.5,
                f"Requesting HA migration for {guest.noun} {guest.vmid} to node {target}",
                request,
            )
        ],
    )
