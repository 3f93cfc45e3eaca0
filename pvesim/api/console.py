"""Console proxies (``vncproxy``/``termproxy``) as long-running ``vncproxy`` tasks.

PVE keeps the proxy worker alive while the viewer is connected; the simulator keeps it
running for a working day so an admin (or the portal revoking access) can end it with
``DELETE /nodes/{node}/tasks/{upid}``.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import resolve_guest, vm_path
from pvesim.api.router import route

SESSION_SECONDS = 8 * 3600


def _console(ctx: Context, kind: str, *, vnc: bool) -> dict[str, Any]:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Console"])
    if not guest.running:
        raise ApiError(500, f"{guest.noun} {guest.vmid} not running")
    port = 5900 + (guest.vmid % 100)
    what = "VNC" if vnc else "terminal"
    upid = ctx.start_task(
        node=guest.node,
        type="vncproxy",
        id=guest.vmid,
        steps=[
            (0.1, f"starting {what} proxy on port {port} for {guest.noun} {guest.vmid}"),
            (SESSION_SECONDS, "connection timed out"),
        ],
    )
    ticket = "PVEVNC:" + base64.b64encode(os.urandom(24)).decode()
    result: dict[str, Any] = {
        "user": ctx.user.full,
        "ticket": ticket,
        "port": port,
        "upid": upid,
    }
    if vnc:
        result["cert"] = ctx.cluster.estate.nodes[guest.node].ssl_fingerprint
        if ctx.params.get("generate-password"):
            result["password"] = base64.b64encode(os.urandom(6)).decode()
    return result


def _register(kind: str) -> None:
    base = f"/nodes/{{node}}/{kind}/{{vmid}}"

    @route("POST", base + "/vncproxy")
    def vncproxy(ctx: Context) -> dict[str, Any]:
        return _console(ctx, kind, vnc=True)

    @route("POST", base + "/termproxy")
    def termproxy(ctx: Context) -> dict[str, Any]:
        return _console(ctx, kind, vnc=False)


_register("qemu")
_register("lxc")
