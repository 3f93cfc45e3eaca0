"""``/nodes/{node}/qemu`` endpoints: the routes shared with LXC plus the QEMU-only
asynchronous config update and reset."""

from __future__ import annotations

from pvesim.api import guest_config
from pvesim.api.context import Context
from pvesim.api.guest_routes import POWER_OPERATIONS, register_guest_routes
from pvesim.api.router import route

register_guest_routes("qemu", power=(*POWER_OPERATIONS, "reset"))


@route("POST", "/nodes/{node}/qemu/{vmid}/config")
def qemu_config_post(ctx: Context) -> str:
    return guest_config.config_post(ctx)
