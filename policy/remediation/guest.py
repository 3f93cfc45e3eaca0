"""Executors acting on one guest: devices and media, config options, migration back to an
allowed node, stopping, deleting a snapshot."""

from __future__ import annotations

import re

from inventory.proxmox import ProxmoxNotFound
from policy.models import ActionKind
from policy.remediation.base import Context, Outcome, executor
from policy.remediation.pending import PENDING_NOTE

_DEVICE_KEY = re.compile(r"^(usb|hostpci|serial|parallel)\d+$")
_MEDIA_KEY = re.compile(r"^(ide|sata|scsi)\d+$")


@executor(ActionKind.REMOVE_DEVICE)
def remove_device(ctx: Context) -> Outcome:
    """Delete a passthrough device key (``usb0``, ``hostpci1``, ``serial0``...).

    Whatever the key holds now is a device of the forbidden class, so it goes even if
    its value changed since evaluation. Real (non-mapped) devices can only be changed by
    root@pam itself, which no API token is: PVE's refusal makes this ``not_possible``.
    """
    key = str(ctx.params["key"])
    if not _DEVICE_KEY.match(key):
        return Outcome.failed(f"{key!r} is not a passthrough device key")
    guest = ctx.target.guest()
    # What is in effect: PVE's default view shows a pending removal as done already.
    config = ctx.gateway.guest_config(**guest, current=True)
    if key not in config.values:
        return Outcome.done(f"{key} is already gone")
    if _removal_pending(ctx, key):
        return Outcome.done(f"removal of {key} is {PENDING_NOTE}", removal_pending=True)
    ctx.gateway.guest_config_update(**guest, digest=config.digest, delete=[key])
    if _removal_pending(ctx, key):  # a running guest that cannot hot-unplug it
        return Outcome.done(
            f"removal of {key} ({config.values[key]}) is {PENDING_NOTE}", removal_pending=True
        )
    return Outcome.done(f"removed {key} ({config.values[key]})")


def _removal_pending(ctx: Context, key: str) -> bool:
    waiting = ctx.gateway.guest_pending(**ctx.target.guest())
    return key in waiting and waiting[key] is None


def _is_cdrom(value: str) -> bool:
    return "media=cdrom" in value


def _no_media(value: str) -> bool:
    return value.split(",", 1)[0] in ("none", "")


@executor(ActionKind.DETACH_MEDIA)
def detach_media(ctx: Context) -> Outcome:
    """Empty a CD-ROM drive (``<key>: none,media=cdrom``): no ISO, no physical drive."""
    key = str(ctx.params["key"])
    if not _MEDIA_KEY.match(key):
        return Outcome.failed(f"{key!r} is not a drive key")
    guest = ctx.target.guest()
    config = ctx.gateway.guest_config(**guest)
    value = config.values.get(key, "")
    if not value or not _is_cdrom(value):
        return Outcome.done(f"{key} is no longer a CD-ROM drive")
    if _no_media(value):
        return Outcome.done(f"{key} already holds no media")
    ctx.gateway.guest_config_update(**guest, digest=config.digest, values={key: "none,media=cdrom"})
    return Outcome.done(f"detached {value.split(',', 1)[0]} from {key}")


@executor(ActionKind.SET_CONFIG)
def set_config(ctx: Context) -> Outcome:
    """Set one config option (``vmgenid``, ``rng0``) unless it already holds the value.

    ``vmgenid`` is root@pam-only in PVE: for a token this ends ``not_possible``.
    """
    key, value = str(ctx.params["key"]), str(ctx.params["value"])
    guest = ctx.target.guest()
    config = ctx.gateway.guest_config(**guest)
    current = config.values.get(key)
    # ``vmgenid: 1`` asks PVE to generate an id: any id present satisfies it.
    if current == value or (key == "vmgenid" and value == "1" and current):
        return Outcome.done(f"{key} is already set")
    ctx.gateway.guest_config_update(**guest, digest=config.digest, values={key: value})
    return Outcome.done(f"set {key}: {value}")


def _guest_status(ctx: Context) -> str | None:
    """The guest's run state on its recorded node; None when it is not there (moved)."""
    try:
        return ctx.gateway.guest_status(**ctx.target.guest()).status
    except ProxmoxNotFound:
        return None


@executor(ActionKind.MIGRATE, verify=lambda ctx: _verify_on_target(ctx))
def migrate(ctx: Context) -> Outcome:
    """Move the guest back to ``target`` (online when running), after PVE's precondition
    read says the target is allowed; local devices or an HA rule keeping it away make it
    ``not_possible`` with PVE's reason."""
    target = str(ctx.params["target"])
    guest = ctx.target.guest()
    if ctx.target.node == target:
        return Outcome.done(f"already on {target}")
    status = _guest_status(ctx)
    if status is None:
        return Outcome.retry(f"not found on {ctx.target.node}; waiting for the next sync")
    local_disks = False
    if ctx.target.kind == "qemu" or ctx.target.pve_major >= 9:
        check = ctx.gateway.guest_migrate_check(**guest)
        if target not in check.allowed_nodes:
            reasons = check.blocked.get(target)
            if reasons is None:
                return Outcome.retry(f"{target} is not available now")
            return Outcome.not_possible(f"PVE will not move it to {target}: {', '.join(reasons)}")
        local_disks = bool(check.local_disks)
    running = status == "running"
    upid = ctx.gateway.guest_migrate(
        **guest, target=target, online=running, with_local_disks=local_disks
    )
    how = "online" if running else "offline"
    return Outcome.started(upid, f"{how} migration {ctx.target.node} -> {target} started")


def _verify_on_target(ctx: Context) -> Outcome:
    target = str(ctx.params["target"])
    try:
        ctx.gateway.guest_status(node=target, kind=ctx.target.kind, vmid=ctx.target.vmid or 0)
    except ProxmoxNotFound:
        return Outcome.failed(f"the task ended but the guest is not on {target}")
    return Outcome.done(f"now on {target}")


def _verify_stopped(ctx: Context) -> Outcome:
    status = _guest_status(ctx)
    if status == "running":
        # An HA-managed guest's stop task only asks the CRM, whose LRM stops it a few
        # seconds later: look again later; the next attempt finds it stopped (or asks again).
        return Outcome.retry("the stop task ended but the guest still runs")
    return Outcome.done("stopped")


@executor(ActionKind.STOP, verify=_verify_stopped)
def stop(ctx: Context) -> Outcome:
    """Hard-stop the guest (a lease expired past its grace period, an order to stop)."""
    status = _guest_status(ctx)
    if status is None:
        return Outcome.retry(f"not found on {ctx.target.node}; waiting for the next sync")
    if status != "running":
        return Outcome.done(f"already {status}")
    upid = ctx.gateway.guest_stop(**ctx.target.guest())
    return Outcome.started(upid, f"stop started ({ctx.params.get('reason', '')})".strip())


def _snapshot_names(ctx: Context) -> set[str]:
    return {s.name for s in ctx.gateway.snapshots(**ctx.target.guest())}


def _verify_snapshot_gone(ctx: Context) -> Outcome:
    name = str(ctx.params["snapshot"])
    if name in _snapshot_names(ctx):
        return Outcome.failed(f"the task ended but snapshot {name} is still there")
    return Outcome.done(f"snapshot {name} deleted")


@executor(ActionKind.SNAPSHOT_DELETE, verify=_verify_snapshot_gone)
def snapshot_delete(ctx: Context) -> Outcome:
    name = str(ctx.params["snapshot"])
    if name not in _snapshot_names(ctx):
        return Outcome.done(f"snapshot {name} is already gone")
    upid = ctx.gateway.snapshot_delete(**ctx.target.guest(), name=name)
    return Outcome.started(upid, f"deleting snapshot {name}")
