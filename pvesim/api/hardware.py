"""``/nodes/{node}/hardware/usb``: the node's USB devices (Sys.Modify on ``/``)."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.router import route


@route("GET", "/nodes/{node}/hardware/usb")
def hardware_usb(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Modify"])
    node = ctx.require_node(ctx.params["node"])
    return [device.as_api() for device in node.usb]
