"""The routes QEMU and LXC share (same paths under ``/nodes/{node}/<kind>``, same
behaviour); ``qemu.py`` and ``lxc.py`` register them for their kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvesim.api import (
    guest_config,
    guest_create,
    guest_lifecycle,
    guest_migrate,
    guest_power,
    guest_remote,
    guest_snapshot,
)
from pvesim.api.context import Context
from pvesim.api.router import route

KindHandler = Callable[[Context, str], Any]

_SHARED: list[tuple[str, str, KindHandler]] = [
    ("GET", "", guest_config.guest_list),
    ("POST", "", guest_create.create),
    ("DELETE", "/{vmid}", guest_create.destroy),
    ("GET", "/{vmid}/config", guest_config.config_get),
    ("PUT", "/{vmid}/config", guest_config.config_put),
    ("GET", "/{vmid}/pending", guest_config.pending_get),
    ("GET", "/{vmid}/status/current", guest_config.status_current),
    ("GET", "/{vmid}/migrate", guest_migrate.migrate_preconditions),
    ("POST", "/{vmid}/migrate", guest_migrate.migrate),
    ("POST", "/{vmid}/remote_migrate", guest_remote.remote_migrate),
    ("POST", "/{vmid}/clone", guest_lifecycle.clone),
    ("POST", "/{vmid}/template", guest_lifecycle.template),
    ("PUT", "/{vmid}/resize", guest_lifecycle.resize),
    ("GET", "/{vmid}/snapshot", guest_snapshot.snapshots_get),
    ("POST", "/{vmid}/snapshot", guest_snapshot.snapshot_post),
    ("DELETE", "/{vmid}/snapshot/{snapname}", guest_snapshot.snapshot_delete_req),
    ("GET", "/{vmid}/snapshot/{snapname}/config", guest_snapshot.snapshot_config_get),
    ("PUT", "/{vmid}/snapshot/{snapname}/config", guest_snapshot.snapshot_config_put),
    ("POST", "/{vmid}/snapshot/{snapname}/rollback", guest_snapshot.snapshot_rollback_post),
]
POWER_OPERATIONS = ("start", "stop", "shutdown", "reboot", "suspend", "resume")


def _bind(kind: str, handler: KindHandler) -> Callable[[Context], Any]:
    def bound(ctx: Context) -> Any:
        return handler(ctx, kind)

    bound.__name__ = f"{kind}_{handler.__name__}"
    return bound


def _bind_power(kind: str, operation: str) -> Callable[[Context], Any]:
    def bound(ctx: Context) -> str:
        return guest_power.power(ctx, kind, operation)

    bound.__name__ = f"{kind}_{operation}"
    return bound


def register_guest_routes(kind: str, *, power: tuple[str, ...] = POWER_OPERATIONS) -> None:
    base = f"/nodes/{{node}}/{kind}"
    for method, tail, handler in _SHARED:
        route(method, base + tail)(_bind(kind, handler))
    for operation in power:
        route("POST", f"{base}/{{vmid}}/status/{operation}")(_bind_power(kind, operation))
