"""Power operations (start/stop/shutdown/reboot/reset/suspend/resume) for QEMU and LXC.

Checks PVE does before forking (``VM 100 not running`` for reboot/reset/suspend/resume) are
HTTP errors; checks done by the worker (lock, already running, template) fail the task.
The state change is applied when the task ends. HA-managed guests get an ``hastart`` /
``hastop`` task that only hands the request to the CRM; the LRM acts ~10 s later.
"""

from __future__ import annotations

from collections.abc import Callable

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import (
    check_skiplock,
    ha_resource,
    lock_message,
    resolve_guest,
    task_type,
    vm_path,
)
from pvesim.cluster import Cluster
from pvesim.model import Guest
from pvesim.tasks import TaskError

HA_CRM_DELAY = 10.0  # CRM/LRM loop: how long until an HA request is acted on


def _record_change(guest: Guest, now: float) -> None:
    guest.previous_status = guest.status
    guest.status_changed_at = now


def guest_start_now(guest: Guest, now: float) -> None:
    """The guest is up: pending changes applied, fresh uptime and pid."""
    if not guest.running:
        _record_change(guest, now)
    guest.apply_pending()
    guest.status = "running"
    guest.paused = False
    guest.started_at = now
    guest.pid = 100_000 + (guest.vmid * 7919 + int(now)) % 3_000_000


def guest_stop_now(guest: Guest, now: float) -> None:
    if guest.running:
        _record_change(guest, now)
    guest.status = "stopped"
    guest.paused = False
    guest.pid = 0
    guest.started_at = 0.0


def _start_checks(guest: Guest, skiplock: bool) -> Callable[[], None]:
    """The worker's order (qemu-server ``vm_start``, pve-container's start worker): the
    template first, then the lock; a hibernated VM's ``suspended`` lock and a container's
    ``mounted`` lock do not block (the start resumes or mounts)."""
    allowed = "suspended" if guest.kind == "qemu" else "mounted"

    def check() -> None:
        if guest.is_template:
            raise TaskError(
                f"you can't start a {'vm' if guest.kind == 'qemu' else 'CT'} if it's a template"
            )
        if guest.lock and not skiplock and guest.lock != allowed:
            raise TaskError(lock_message(guest))
        if guest.running:
            raise TaskError(f"{guest.noun} {guest.vmid} already running")

    return check


def _lock_check(guest: Guest, skiplock: bool) -> Callable[[], None]:
    def check() -> None:
        if guest.lock and not skiplock:
            raise TaskError(lock_message(guest))

    return check


def lrm_task(cluster: Cluster, guest: Guest, operation: str, *, now: float) -> None:
    """The LRM's own worker (owned by root@pam) that carries out an HA request."""

    def run() -> None:
        if operation == "start":
            if not guest.running:
                guest_start_now(guest, cluster.now())
        else:
            guest_stop_now(guest, cluster.now())

    cluster.tasks.start(
        now=now,
        node=guest.node,
        type=task_type(guest, operation),
        id=str(guest.vmid),
        user="root@pam",
        steps=[(HA_CRM_DELAY, (), run)],
        boot_time=cluster.estate.nodes[guest.node].boot_time or None,
    )


def _ha_request(ctx: Context, guest: Guest, operation: str) -> str:
    resource = ha_resource(ctx, guest)
    assert resource is not None
    state = "started" if operation == "start" else "stopped"
    verb = "start" if operation == "start" else "stop"
    cluster = ctx.cluster

    def done() -> None:
        resource.state = state
        resource.crm_state = "started" if operation == "start" else "request_stop"
        lrm_task(cluster, guest, operation, now=cluster.now())

    ha_type = "hastart" if operation == "start" else "hastop"
    return ctx.start_task(
        node=guest.node,
        type=ha_type,
        id=guest.vmid,
        steps=[(0.5, f"Requesting HA {verb} for {guest.noun} {guest.vmid}")],
        on_done=done,
    )


def power(ctx: Context, kind: str, operation: str) -> str:
    """Dispatch one ``POST .../status/<operation>``."""
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.PowerMgmt"])
    skiplock = check_skiplock(ctx)
    if operation in {"start", "stop"} and ha_resource(ctx, guest) is not None:
        return _ha_request(ctx, guest, operation)
    if operation == "shutdown" and ha_resource(ctx, guest) is not None:
        return _ha_request(ctx, guest, "stop")
    handler = _OPERATIONS[operation]
    return handler(ctx, guest, skiplock)


def _task(ctx: Context, guest: Guest, operation: str, steps: list, done: Callable[[], None]) -> str:
    return ctx.start_task(
        node=guest.node, type=task_type(guest, operation), id=guest.vmid, steps=steps, on_done=done
    )


def _start(ctx: Context, guest: Guest, skiplock: bool) -> str:
    cluster = ctx.cluster
    seconds = (
        1.5
        + int(guest.config.get("memory", "512").split(",")[0].removeprefix("current=") or 512)
        / 16384
    )

    def started() -> None:
        if guest.lock == "suspended":
            del guest.config["lock"]
        guest_start_now(guest, cluster.now())

    return _task(
        ctx, guest, "start", [(0.2, (), _start_checks(guest, skiplock)), (seconds, ())], started
    )


def _stop(ctx: Context, guest: Guest, skiplock: bool) -> str:
    return _task(
        ctx,
        guest,
        "stop",
        [(0.2, (), _lock_check(guest, skiplock)), (0.8, ())],
        lambda: guest_stop_now(guest, ctx.cluster.now()),
    )


def _shutdown(ctx: Context, guest: Guest, skiplock: bool) -> str:
    if guest.paused and not ctx.params.get("forceStop"):
        raise ApiError(500, f"{guest.noun} is paused - cannot shutdown")
    return _task(
        ctx,
        guest,
        "shutdown",
        [(0.2, (), _lock_check(guest, skiplock)), (4.0, ())],
        lambda: guest_stop_now(guest, ctx.cluster.now()),
    )


def _require_running(guest: Guest) -> None:
    if not guest.running:
        raise ApiError(500, f"{guest.noun} {guest.vmid} not running")


def _reboot(ctx: Context, guest: Guest, skiplock: bool) -> str:
    _require_running(guest)
    cluster = ctx.cluster
    return _task(
        ctx,
        guest,
        "reboot",
        [(0.2, (), _lock_check(guest, False)), (6.0, ())],
        lambda: guest_start_now(guest, cluster.now()),
    )


def _reset(ctx: Context, guest: Guest, skiplock: bool) -> str:
    _require_running(guest)
    cluster = ctx.cluster

    def done() -> None:
        guest.started_at = cluster.now()

    return _task(ctx, guest, "reset", [(0.2, (), _lock_check(guest, skiplock)), (0.3, ())], done)


def _suspend(ctx: Context, guest: Guest, skiplock: bool) -> str:
    _require_running(guest)
    todisk = bool(ctx.params.get("todisk"))
    if todisk:

        def hibernate() -> None:
            guest_stop_now(guest, ctx.cluster.now())
            guest.config["lock"] = "suspended"

        return ctx.start_task(
            node=guest.node,
            type="qmsuspend",
            id=guest.vmid,
            on_done=hibernate,
            steps=[
                (0.2, (), _lock_check(guest, skiplock)),
                (3.0, ["suspend to disk", "saving VM state and RAM"]),
            ],
        )

    def pause() -> None:
        guest.paused = True

    op_type = "qmpause" if guest.kind == "qemu" else task_type(guest, "suspend")
    return ctx.start_task(
        node=guest.node,
        type=op_type,
        id=guest.vmid,
        on_done=pause,
        steps=[(0.2, (), _lock_check(guest, skiplock)), (0.3, ())],
    )


def _resume(ctx: Context, guest: Guest, skiplock: bool) -> str:
    cluster = ctx.cluster
    if guest.lock == "suspended":

        def wake() -> None:
            guest.config.pop("lock", None)
            guest_start_now(guest, cluster.now())

        return _task(ctx, guest, "resume", [(2.0, "resuming VM from saved state")], wake)
    _require_running(guest)

    def unpause() -> None:
        guest.paused = False

    return _task(
        ctx, guest, "resume", [(0.2, (), _lock_check(guest, skiplock)), (0.3, ())], unpause
    )


_OPERATIONS = {
    "start": _start,
    "stop": _stop,
    "shutdown": _shutdown,
    "reboot": _reboot,
    "reset": _reset,
    "suspend": _suspend,
    "resume": _resume,
}
