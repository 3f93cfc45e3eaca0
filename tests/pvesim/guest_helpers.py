"""Helpers shared by the guest tests: a proxmoxer client and guest finders."""

from __future__ import annotations

from collections.abc import Callable

from proxmoxer import ProxmoxAPI

from pvesim.model import Guest
from tests.pvesim.conftest import Sim


def prox(sim: Sim) -> ProxmoxAPI:
    """proxmoxer over real HTTPS with the root@pam!steward token."""
    user, _, token = sim.token_id.partition("!")
    return ProxmoxAPI(
        sim.host,
        port=sim.port,
        user=user,
        token_name=token,
        token_value=sim.token_secret,
        verify_ssl=str(sim.server.certificate.cert_file),
        timeout=10,
    )


def find_guest(sim: Sim, predicate: Callable[[Guest], bool]) -> Guest:
    for guest in sim.cluster.estate.guests.values():
        if predicate(guest):
            return guest
    raise AssertionError("scenario has no such guest")


def task_status(sim: Sim, upid: str) -> dict:
    node = upid.split(":")[1]
    return sim.api("GET", f"/nodes/{node}/tasks/{upid}/status").json()["data"]


def task_log(sim: Sim, upid: str) -> list[str]:
    node = upid.split(":")[1]
    data = sim.api("GET", f"/nodes/{node}/tasks/{upid}/log", params={"limit": 0}).json()["data"]
    return [line["t"] for line in data]


def finish(sim: Sim, upid: str, seconds: float = 120) -> dict:
    """Advance simulated time until the task stopped; returns its status."""
    sim.advance(seconds)
    status = task_status(sim, upid)
    assert status["status"] == "stopped", status
    return status


def limited_auth(sim: Sim, userid: str, *, path: str, roles: str) -> str:
    """An ``Authorization`` header for a fresh user token holding ``roles`` on ``path``."""
    sim.cluster.access.user_add(userid)
    token = sim.cluster.access.token_add(userid, "t", privsep=False)
    sim.control("POST", "acl/add", path=path, roles=roles, users=userid)
    return f"PVEAPIToken={token.full}={token.secret}"


def plain_vm(sim: Sim, *, running: bool = False, movable: bool = False) -> Guest:
    """A QEMU VM a test may freely change: no template, not HA-managed, unlocked,
    unprotected, not paused, in the requested power state. ``movable`` also excludes
    passthrough devices and node-local disks, so it can migrate to any node."""
    estate = sim.cluster.estate

    def fits(guest: Guest) -> bool:
        if guest.kind != "qemu" or guest.running is not running or guest.is_template:
            return False
        if guest.lock or guest.paused or estate.ha_resource(guest) is not None:
            return False
        if guest.config.get("protection") == "1":
            return False
        if movable:
            local = ("usb0", "hostpci0", "serial0", "scsi1")
            if any(k in guest.config for k in local) or "local-lvm:" in guest.config["scsi0"]:
                return False
        return True

    return find_guest(sim, fits)
