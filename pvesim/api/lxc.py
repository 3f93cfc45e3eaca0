"""``/nodes/{node}/lxc`` endpoints; the behaviour shared with QEMU lives in ``guest_*``."""

from __future__ import annotations

from typing import Any

from pvesim.api import guest_config, guest_lifecycle, guest_migrate, guest_power, guest_snapshot
from pvesim.api.context import Context
from pvesim.api.router import route

BASE = "/nodes/{node}/lxc"
VM = BASE + "/{vmid}"


@route("GET", BASE)
def lxc_list(ctx: Context) -> list[dict[str, Any]]:
    return guest_config.guest_list(ctx, "lxc")


@route("POST", BASE)
def lxc_create(ctx: Context) -> str:
    return guest_lifecycle.create(ctx, "lxc")


@route("DELETE", VM)
def lxc_destroy(ctx: Context) -> str:
    return guest_lifecycle.destroy(ctx, "lxc")


@route("GET", VM + "/config")
def lxc_config_get(ctx: Context) -> dict[str, Any]:
    return guest_config.config_get(ctx, "lxc")


@route("PUT", VM + "/config")
def lxc_config_put(ctx: Context) -> None:
    return guest_config.config_put(ctx, "lxc")


@route("GET", VM + "/pending")
def lxc_pending(ctx: Context) -> list[dict[str, Any]]:
    return guest_config.pending_get(ctx, "lxc")


@route("GET", VM + "/status/current")
def lxc_status(ctx: Context) -> dict[str, Any]:
    return guest_config.status_current(ctx, "lxc")


def _power(operation: str) -> None:
    @route("POST", f"{VM}/status/{operation}")
    def handler(ctx: Context) -> str:
        return guest_power.power(ctx, "lxc", operation)

    handler.__name__ = f"lxc_{operation}"


for _operation in ("start", "stop", "shutdown", "reboot", "suspend", "resume"):
    _power(_operation)


@route("GET", VM + "/migrate")
def lxc_migrate_preconditions(ctx: Context) -> dict[str, Any]:
    return guest_migrate.migrate_preconditions(ctx, "lxc")


@route("POST", VM + "/migrate")
def lxc_migrate(ctx: Context) -> str:
    return guest_migrate.migrate(ctx, "lxc")


@route("POST", VM + "/remote_migrate")
def lxc_remote_migrate(ctx: Context) -> str:
    return guest_migrate.remote_migrate(ctx, "lxc")


@route("POST", VM + "/clone")
def lxc_clone(ctx: Context) -> str:
    return guest_lifecycle.clone(ctx, "lxc")


@route("POST", VM + "/template")
def lxc_template(ctx: Context) -> str | None:
    return guest_lifecycle.template(ctx, "lxc")


@route("PUT", VM + "/resize")
def lxc_resize(ctx: Context) -> str:
    return guest_lifecycle.resize(ctx, "lxc")


@route("GET", VM + "/snapshot")
def lxc_snapshots(ctx: Context) -> list[dict[str, Any]]:
    return guest_snapshot.snapshots_get(ctx, "lxc")


@route("POST", VM + "/snapshot")
def lxc_snapshot(ctx: Context) -> str:
    return guest_snapshot.snapshot_post(ctx, "lxc")


@route("DELETE", VM + "/snapshot/{snapname}")
def lxc_snapshot_delete(ctx: Context) -> str:
    return guest_snapshot.snapshot_delete_req(ctx, "lxc")


@route("GET", VM + "/snapshot/{snapname}/config")
def lxc_snapshot_config(ctx: Context) -> dict[str, Any]:
    return guest_snapshot.snapshot_config_get(ctx, "lxc")


@route("PUT", VM + "/snapshot/{snapname}/config")
def lxc_snapshot_config_put(ctx: Context) -> None:
    return guest_snapshot.snapshot_config_put(ctx, "lxc")


@route("POST", VM + "/snapshot/{snapname}/rollback")
def lxc_rollback(ctx: Context) -> str:
    return guest_snapshot.snapshot_rollback_post(ctx, "lxc")
