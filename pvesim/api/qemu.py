"""``/nodes/{node}/qemu`` endpoints; the behaviour shared with LXC lives in ``guest_*``."""

from __future__ import annotations

from typing import Any

from pvesim.api import guest_config, guest_lifecycle, guest_migrate, guest_power, guest_snapshot
from pvesim.api.context import Context
from pvesim.api.router import route

BASE = "/nodes/{node}/qemu"
VM = BASE + "/{vmid}"


@route("GET", BASE)
def qemu_list(ctx: Context) -> list[dict[str, Any]]:
    return guest_config.guest_list(ctx, "qemu")


@route("POST", BASE)
def qemu_create(ctx: Context) -> str:
    return guest_lifecycle.create(ctx, "qemu")


@route("DELETE", VM)
def qemu_destroy(ctx: Context) -> str:
    return guest_lifecycle.destroy(ctx, "qemu")


@route("GET", VM + "/config")
def qemu_config_get(ctx: Context) -> dict[str, Any]:
    return guest_config.config_get(ctx, "qemu")


@route("PUT", VM + "/config")
def qemu_config_put(ctx: Context) -> None:
    return guest_config.config_put(ctx, "qemu")


@route("POST", VM + "/config")
def qemu_config_post(ctx: Context) -> str:
    return guest_config.config_post(ctx)


@route("GET", VM + "/pending")
def qemu_pending(ctx: Context) -> list[dict[str, Any]]:
    return guest_config.pending_get(ctx, "qemu")


@route("GET", VM + "/status/current")
def qemu_status(ctx: Context) -> dict[str, Any]:
    return guest_config.status_current(ctx, "qemu")


def _power(operation: str) -> None:
    @route("POST", f"{VM}/status/{operation}")
    def handler(ctx: Context) -> str:
        return guest_power.power(ctx, "qemu", operation)

    handler.__name__ = f"qemu_{operation}"


for _operation in ("start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"):
    _power(_operation)


@route("GET", VM + "/migrate")
def qemu_migrate_preconditions(ctx: Context) -> dict[str, Any]:
    return guest_migrate.migrate_preconditions(ctx, "qemu")


@route("POST", VM + "/migrate")
def qemu_migrate(ctx: Context) -> str:
    return guest_migrate.migrate(ctx, "qemu")


@route("POST", VM + "/remote_migrate")
def qemu_remote_migrate(ctx: Context) -> str:
    return guest_migrate.remote_migrate(ctx, "qemu")


@route("POST", VM + "/clone")
def qemu_clone(ctx: Context) -> str:
    return guest_lifecycle.clone(ctx, "qemu")


@route("POST", VM + "/template")
def qemu_template(ctx: Context) -> str | None:
    return guest_lifecycle.template(ctx, "qemu")


@route("PUT", VM + "/resize")
def qemu_resize(ctx: Context) -> str:
    return guest_lifecycle.resize(ctx, "qemu")


@route("GET", VM + "/snapshot")
def qemu_snapshots(ctx: Context) -> list[dict[str, Any]]:
    return guest_snapshot.snapshots_get(ctx, "qemu")


@route("POST", VM + "/snapshot")
def qemu_snapshot(ctx: Context) -> str:
    return guest_snapshot.snapshot_post(ctx, "qemu")


@route("DELETE", VM + "/snapshot/{snapname}")
def qemu_snapshot_delete(ctx: Context) -> str:
    return guest_snapshot.snapshot_delete_req(ctx, "qemu")


@route("GET", VM + "/snapshot/{snapname}/config")
def qemu_snapshot_config(ctx: Context) -> dict[str, Any]:
    return guest_snapshot.snapshot_config_get(ctx, "qemu")


@route("PUT", VM + "/snapshot/{snapname}/config")
def qemu_snapshot_config_put(ctx: Context) -> None:
    return guest_snapshot.snapshot_config_put(ctx, "qemu")


@route("POST", VM + "/snapshot/{snapname}/rollback")
def qemu_rollback(ctx: Context) -> str:
    return guest_snapshot.snapshot_rollback_post(ctx, "qemu")
