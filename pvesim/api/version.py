"""GET /version: any authenticated user."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.router import route


@route("GET", "/version")
def version(ctx: Context) -> dict[str, Any]:
    profile = ctx.cluster.profile
    return {"version": profile.version, "release": profile.release, "repoid": profile.repoid}
