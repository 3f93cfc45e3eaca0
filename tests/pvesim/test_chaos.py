"""Chaos through the control API: node failure and return, fail-next task, out-of-band
admin changes, stale locks, and state surviving a JSON round trip."""

from __future__ import annotations

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, plain_vm, prox


def test_node_down_makes_its_guests_unknown_and_refuses_requests(sim: Sim) -> None:
    estate = sim.cluster.estate
    vm = find_guest(sim, lambda g: g.kind == "qemu" and estate.ha_resource(g) is None)
    sim.control("POST", "node/down", node=vm.node)
    response = sim.api("GET", f"/nodes/{vm.node}/qemu/{vm.vmid}/config")
    assert response.status_code == 595
    item = next(i for i in prox(sim).cluster.resources.get(type="vm") if i["vmid"] == vm.vmid)
    assert item["status"] == "unknown"
    node = next(i for i in prox(sim).cluster.resources.get(type="node") if i["node"] == vm.node)
    assert node["status"] == "offline"
    vm.config["onboot"] = "1"
    sim.control("POST", "node/up", node=vm.node)
    assert prox(sim).nodes(vm.node).qemu(vm.vmid).status.current.get()["status"] == "running"


def test_fail_next_task_leaves_no_lock_and_no_change(sim: Sim) -> None:
    estate = sim.cluster.estate
    vm = plain_vm(sim, movable=True)
    target = next(n for n in estate.nodes if n != vm.node)
    sim.control("POST", "task/fail-next", type="qmigrate", message="injected failure")
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.post(target=target)
    assert finish(sim, upid)["exitstatus"] == "injected failure"
    assert vm.node != target
    assert vm.lock is None


def test_out_of_band_usb_and_migration(sim: Sim) -> None:
    estate = sim.cluster.estate
    vm = plain_vm(sim, movable=True)
    node = estate.nodes[vm.node]
    device = next(d for d in node.usb if d.usbpath)
    result = sim.control(
        "POST", "guest/attach-usb", vmid=vm.vmid, device=f"{device.vendid}:{device.prodid}"
    )
    config = prox(sim).nodes(vm.node).qemu(vm.vmid).config.get()
    assert config[result["key"]] == f"host={device.vendid}:{device.prodid}"
    sim.control("POST", "guest/detach-usb", vmid=vm.vmid, key=result["key"])
    target = next(n for n in estate.nodes if n != vm.node)
    upid = sim.control("POST", "guest/migrate", vmid=vm.vmid, target=target)["upid"]
    assert upid.split(":")[7] == "root@pam"
    finish(sim, upid, 3600)
    assert vm.node == target


def test_state_round_trip_keeps_digests(sim: Sim) -> None:
    from pvesim.cluster import Cluster

    data = sim.cluster.to_json()
    restored = Cluster.from_json(data, clock=sim.cluster.clock)
    for vmid, guest in sim.cluster.estate.guests.items():
        assert restored.estate.guests[vmid].digest() == guest.digest()
