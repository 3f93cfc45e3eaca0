"""The gateway asks a VM's guest agent which OS it runs (``agent/get-osinfo``)."""

from __future__ import annotations

import pytest

from inventory.proxmox import ProxmoxServerError
from inventory.proxmox.agent import OsInfo


def _vm(sim, *, running: bool, agent: bool):
    return next(
        g
        for g in sorted(sim.cluster.estate.guests.values(), key=lambda g: g.vmid)
        if g.kind == "qemu"
        and (g.status == "running") == running
        and ("agent" in g.config) == agent
        and g.config.get("template") != "1"
        and (not agent or g.agent_installed)
    )


def test_osinfo_is_typed(root_sim, gw):
    guest = _vm(root_sim, running=True, agent=True)
    info = gw.agent_osinfo(node=guest.node, vmid=guest.vmid)
    assert isinstance(info, OsInfo)
    expected = guest.os_release.get("id") or "mswindows"  # Windows answers by ostype
    assert info.os_id == expected
    assert info.version_id
    assert info.pretty_name
    assert info.machine == "x86_64"


@pytest.mark.parametrize(
    ("running", "agent", "message"),
    [
        (True, False, "No QEMU guest agent configured"),
        (False, True, "is not running"),
    ],
)
def test_agent_refusals_are_server_errors_in_pve_words(root_sim, gw, running, agent, message):
    guest = _vm(root_sim, running=running, agent=agent)
    with pytest.raises(ProxmoxServerError, match=message):
        gw.agent_osinfo(node=guest.node, vmid=guest.vmid)


def test_installed_agent_that_does_not_run_is_a_server_error(root_sim, gw):
    guest = _vm(root_sim, running=True, agent=True)
    guest.agent_installed = False
    with pytest.raises(ProxmoxServerError, match="QEMU guest agent is not running"):
        gw.agent_osinfo(node=guest.node, vmid=guest.vmid)


def test_answer_without_result_is_refused():
    with pytest.raises(ValueError, match="without a result"):
        OsInfo.from_api({"error": "nope"})
    info = OsInfo.from_api({"result": {"id": "Rocky", "version-id": "9.5", "name": "Rocky"}})
    assert (info.os_id, info.version_id, info.pretty_name) == ("rocky", "9.5", "")
