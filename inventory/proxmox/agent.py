"""Reads through a QEMU guest agent (``/nodes/{node}/qemu/{vmid}/agent/...``).

PVE answers ``{"result": {...}}`` when the agent answered, and a 500 when the agent is not
configured ("No QEMU guest agent configured"), the VM is not running, the agent is not
running ("QEMU guest agent is not running") or did not answer in time ("got timeout"):
all of these reach callers as ``ProxmoxServerError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inventory.proxmox import errors


@dataclass(frozen=True, slots=True)
class OsInfo:
    """``guest-get-osinfo`` as the agent reports it (os-release on Linux, the product on
    Windows: ``id`` ``mswindows``, ``version-id`` like ``2019`` or ``2012r2``)."""

    os_id: str
    name: str
    version_id: str
    pretty_name: str
    kernel_release: str
    machine: str

    @classmethod
    def from_api(cls, data: Any) -> OsInfo:
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise ValueError("get-osinfo without a result object")

        def text(key: str, size: int) -> str:
            return str(result.get(key) or "").strip()[:size]

        return cls(
            os_id=text("id", 50).lower(),
            name=text("name", 100),
            version_id=text("version-id", 50).lower(),
            pretty_name=text("pretty-name", 200),
            kernel_release=text("kernel-release", 100),
            machine=text("machine", 30),
        )


class AgentReads:
    """Mixed into ``ProxmoxGateway``; relies on its ``_call``."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any: ...

    def agent_osinfo(self, *, node: str, vmid: int) -> OsInfo:
        """What OS the running VM ``vmid`` on ``node`` says it runs."""
        path = f"/nodes/{node}/qemu/{vmid}/agent/get-osinfo"
        data = self._call("GET", path, "/nodes/{node}/qemu/{vmid}/agent/get-osinfo")
        try:
            return OsInfo.from_api(data)
        except ValueError as exc:
            raise errors.ProxmoxInvalidResponse(str(exc), method="GET", path=path) from exc
