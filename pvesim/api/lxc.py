"""``/nodes/{node}/lxc`` endpoints: LXC behaves like QEMU on every shared path (config
is PUT-only; ``interfaces`` lives in ``agent.py``)."""

from __future__ import annotations

from pvesim.api.guest_routes import register_guest_routes

register_guest_routes("lxc")
