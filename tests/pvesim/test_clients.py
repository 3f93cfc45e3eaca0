"""Real Proxmox clients from PyPI drive pvesim end to end over HTTPS."""

from __future__ import annotations

import pytest
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks
from pve_api.api import PVE

from tests.pvesim.conftest import ROOT_PASSWORD, Sim
from tests.pvesim.guest_helpers import prox


def test_proxmoxer_token_login_reads_version_and_nodes(sim: Sim) -> None:
    api = prox(sim)
    assert api.version.get()["release"] == "9.1"
    nodes = {n["node"] for n in api.nodes.get()}
    assert nodes == set(sim.cluster.estate.nodes)


def test_proxmoxer_ticket_login_writes_with_csrf(sim: Sim) -> None:
    api = ProxmoxAPI(
        sim.host,
        port=sim.port,
        user="root@pam",
        password=ROOT_PASSWORD,
        verify_ssl=str(sim.server.certificate.cert_file),
    )
    api.pools.post(poolid="from-proxmoxer", comment="made over a ticket")
    pools = {p["poolid"]: p for p in api.pools.get()}
    assert pools["from-proxmoxer"]["comment"] == "made over a ticket"


def test_proxmoxer_error_message_reaches_resource_exception(sim: Sim) -> None:
    api = prox(sim)
    with pytest.raises(ResourceException) as error:
        api.pools.post(poolid="prod")
    assert "pool 'prod' already exists" in str(error.value)
    with pytest.raises(ResourceException) as bad:
        api.nodes(sim.first_node()).tasks.get(limit="abc")
    assert bad.value.status_code == 400
    assert bad.value.errors == {"limit": "type check ('integer') failed - got 'abc'"}


def test_proxmoxer_blocking_status_follows_a_task(sim: Sim) -> None:
    node = sim.first_node()
    with sim.cluster.lock:
        task = sim.cluster.tasks.start(
            now=sim.cluster.now(),
            node=node,
            type="qmstart",
            id="100",
            user="root@pam",
            steps=[(0, "starting"), (2, "started")],
        )
    sim.cluster.clock.set_speed(50.0)  # the 2 simulated seconds pass in 40 ms
    api = prox(sim)
    assert Tasks.decode_upid(task.upid)["type"] == "qmstart"
    status = Tasks.blocking_status(api, task.upid, timeout=10, polling_interval=0.05)
    assert status["status"] == "stopped"
    assert status["exitstatus"] == "OK"
    log = api.nodes(node).tasks(task.upid).log.get()
    assert [line["t"] for line in log] == ["starting", "started", "TASK OK"]


def test_pve_api_client_logs_in_through_extjs(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    # pve-api hard-codes port 8006 in its URL builder; point it at the simulator's port.
    def build_url(self: PVE, path: str, api_prefix: str = "/api2/extjs") -> str:
        return f"https://{sim.host}:{sim.port}{api_prefix}{path}"

    monkeypatch.setattr(PVE, "__build_url__", build_url)
    client = PVE(sim.host, "root", ROOT_PASSWORD)
    assert client.version().release == "9.1"
    assert {n.node for n in client.get_nodes()} == set(sim.cluster.estate.nodes)
