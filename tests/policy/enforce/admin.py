"""An administrator signed in to Proxmox as root@pam (a ticket, as the web UI holds):
the one identity PVE lets change real host devices (``hostpciN: <address>``,
``serialN: /dev/...``), which no API token may, not even root's."""

from __future__ import annotations

from typing import Any

from pvesim.testing import ROOT_PASSWORD, RunningSim


class RootAdmin:
    def __init__(self, sim: RunningSim) -> None:
        self.sim = sim
        login = sim.api(
            "POST",
            "/access/ticket",
            auth="",
            data={"username": "root@pam", "password": ROOT_PASSWORD},
        )
        assert login.status_code == 200, login.text
        data = login.json()["data"]
        self.headers = {
            "Cookie": f"PVEAuthCookie={data['ticket']}",
            "CSRFPreventionToken": data["CSRFPreventionToken"],
        }

    def config(self, guest: Any, **data: str) -> None:
        """``PUT .../config`` on the guest (``delete="hostpci0"`` removes a key)."""
        response = self.sim.api(
            "PUT",
            f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
            auth="",
            headers=self.headers,
            data=data,
        )
        assert response.status_code == 200, response.text

    def power(self, guest: Any, action: str) -> None:
        """``start`` or ``stop`` the guest and let the task finish."""
        response = self.sim.api(
            "POST",
            f"/nodes/{guest.node}/qemu/{guest.vmid}/status/{action}",
            auth="",
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        self.sim.advance(60)
