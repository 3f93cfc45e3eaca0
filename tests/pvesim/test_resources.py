"""/cluster/resources: per-type fields, per-node storage entries, filtering, live lock/node."""

from __future__ import annotations

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, limited_auth, plain_vm, prox


def test_resource_types_and_fields(sim: Sim) -> None:
    items = prox(sim).cluster.resources.get()
    by_type: dict[str, list[dict]] = {}
    for item in items:
        by_type.setdefault(item["type"], []).append(item)
    estate = sim.cluster.estate
    assert len(by_type["qemu"]) + len(by_type["lxc"]) == len(estate.guests)
    vm = next(i for i in by_type["qemu"] if i["status"] == "running")
    assert isinstance(vm["vmid"], int)
    assert {"maxmem", "maxdisk", "cpu", "mem", "uptime", "template", "name", "node"} <= set(vm)
    assert by_type["node"][0]["id"] == f"node/{by_type['node'][0]['node']}"
    local = [i for i in by_type["storage"] if i["storage"] == "local"]
    assert len(local) == len(estate.nodes)
    assert local[0]["id"] == f"storage/{local[0]['node']}/local"
    assert next(i for i in by_type["storage"] if i["storage"] == "usb-backup")["node"] == (
        sim.first_node()
    )
    assert by_type["pool"][0]["id"].startswith("/pool/")
    ha = [i for i in by_type["qemu"] if "hastate" in i]
    assert ha


def test_type_filter_and_live_lock(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.lock)
    sim.control("POST", "guest/lock", vmid=vm.vmid, lock="backup")
    items = prox(sim).cluster.resources.get(type="vm")
    assert {i["type"] for i in items} == {"qemu", "lxc"}
    assert next(i for i in items if i["vmid"] == vm.vmid)["lock"] == "backup"
    response = sim.api("GET", "/cluster/resources", params={"type": "pool"})
    assert response.status_code == 400


def test_guests_are_filtered_by_vm_audit(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu")
    auth = limited_auth(sim, "dave@pve", path=f"/vms/{vm.vmid}", roles="PVEAuditor")
    items = sim.api("GET", "/cluster/resources", auth=auth).json()["data"]
    guests = [i for i in items if i["type"] in {"qemu", "lxc"}]
    assert [g["vmid"] for g in guests] == [vm.vmid]
    nodes = [i for i in items if i["type"] == "node"]
    assert len(nodes) == len(sim.cluster.estate.nodes)
    assert "maxmem" not in nodes[0]
    assert not [i for i in items if i["type"] == "storage"]
    listed = sim.api("GET", f"/nodes/{vm.node}/qemu", auth=auth).json()["data"]
    assert [i["vmid"] for i in listed] == [vm.vmid]


def test_hardware_usb_needs_sys_modify(sim: Sim) -> None:
    node = sim.first_node()
    devices = prox(sim).nodes(node).hardware.usb.get()
    assert {"busnum", "devnum", "vendid", "prodid", "speed"} <= set(devices[0])
    auth = limited_auth(sim, "erin@pve", path="/", roles="PVEAuditor")
    response = sim.api("GET", f"/nodes/{node}/hardware/usb", auth=auth)
    assert response.status_code == 403


def test_optional_stats_lag_delays_power_state_but_not_lock(sim: Sim) -> None:
    vm = plain_vm(sim)
    sim.control("POST", "stats-lag", enabled=1)
    sim.advance(10 - sim.cluster.now() % 10 + 0.1)  # just after a pvestatd push
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).status.start.post()
    finish(sim, upid, 3)
    item = next(i for i in prox(sim).cluster.resources.get(type="vm") if i["vmid"] == vm.vmid)
    assert item["status"] == "stopped"
    sim.control("POST", "guest/lock", vmid=vm.vmid, lock="backup")
    item = next(i for i in prox(sim).cluster.resources.get(type="vm") if i["vmid"] == vm.vmid)
    assert item["lock"] == "backup"
    sim.advance(10)
    item = next(i for i in prox(sim).cluster.resources.get(type="vm") if i["vmid"] == vm.vmid)
    assert item["status"] == "running"


def test_changes_show_up_at_once_within_one_stats_interval(sim: Sim) -> None:
    vm = plain_vm(sim)
    api = prox(sim)

    def entry() -> dict:
        return next(i for i in api.cluster.resources.get(type="vm") if i["vmid"] == vm.vmid)

    assert entry()["name"] == vm.name
    api.nodes(vm.node).qemu(vm.vmid).config.put(name="renamed", tags="fresh", memory="8192")
    after = entry()
    assert after["name"] == "renamed"
    assert after["tags"] == "fresh"
    assert after["maxmem"] == 8192 * 1024**2
    finish(sim, api.nodes(vm.node).qemu(vm.vmid).status.start.post(), 5)
    assert entry()["status"] == "running"
