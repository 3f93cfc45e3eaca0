"""Migration: preconditions, lock during the task, node move, failures, HA affinity."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, plain_vm, prox, task_log


def other_node(sim: Sim, node: str) -> str:
    return next(n for n in sim.cluster.estate.nodes if n != node)


def test_preconditions_report_local_usb_device(sim: Sim) -> None:
    vm = plain_vm(sim, movable=True)
    usb = next(d for n in [sim.cluster.estate.nodes[vm.node]] for d in n.usb if d.usbpath)
    sim.control("POST", "guest/attach-usb", vmid=vm.vmid, device=usb.usbpath)
    info = prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.get()
    assert info["local_resources"] == ["usb0"]
    assert info["running"] == 0
    assert info["allowed_nodes"] == []
    for blockers in info["not_allowed_nodes"].values():
        assert blockers["unavailable-resources"] == ["usb0"]
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.post(target=other_node(sim, vm.node))
    assert finish(sim, upid)["exitstatus"] == "migration aborted"
    assert any(
        "can't migrate VM which uses local devices: usb0" in line for line in task_log(sim, upid)
    )
    assert vm.lock is None


def test_migration_locks_then_moves_the_guest(sim: Sim) -> None:
    vm = plain_vm(sim, running=True, movable=True)
    source, target = vm.node, other_node(sim, vm.node)
    api = prox(sim).nodes(source).qemu(vm.vmid)
    with pytest.raises(ResourceException, match="can't migrate running VM without --online"):
        api.migrate.post(target=target)
    response = sim.api("POST", f"/nodes/{source}/qemu/{vm.vmid}/migrate", data={"target": source})
    assert response.status_code == 400
    assert response.json()["errors"] == {"target": "target is local node."}
    upid = api.migrate.post(target=target, online=1)
    assert upid.split(":")[5] == "qmigrate"
    assert api.config.get()["lock"] == "migrate"
    with pytest.raises(ResourceException, match=r"VM is locked \(migrate\)"):
        api.config.put(cores=2)
    assert finish(sim, upid)["exitstatus"] == "OK"
    assert task_log(sim, upid)[-2].startswith("migration finished successfully")
    response = sim.api("GET", f"/nodes/{source}/qemu/{vm.vmid}/config")
    assert response.status_code == 500
    moved = prox(sim).nodes(target).qemu(vm.vmid).status.current.get()
    assert moved["status"] == "running"
    assert "lock" not in moved
    resources = {r["vmid"]: r for r in prox(sim).cluster.resources.get(type="vm")}
    assert resources[vm.vmid]["node"] == target


def test_migration_to_a_down_node_fails_in_the_task(sim: Sim) -> None:
    vm = plain_vm(sim, movable=True)
    target = other_node(sim, vm.node)
    sim.control("POST", "node/down", node=target)
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.post(target=target)
    status = finish(sim, upid)
    assert status["exitstatus"] == "migration aborted"
    log = task_log(sim, upid)
    assert log[-1] == "TASK ERROR: migration aborted"
    assert log[-2].endswith("Can't connect to destination address using public key")
    assert vm.node != target
    assert vm.lock is None


def test_a_disk_storage_missing_on_the_target_refuses_the_call(sim: Sim) -> None:
    vm = plain_vm(sim, movable=True)
    target = other_node(sim, vm.node)
    storage_id = vm.config["scsi0"].split(":", 1)[0]
    storage = sim.cluster.estate.storages[storage_id]
    storage.nodes = [vm.node]
    response = sim.api("POST", f"/nodes/{vm.node}/qemu/{vm.vmid}/migrate", data={"target": target})
    assert response.status_code == 500
    assert response.reason == f"storage '{storage_id}' is not available on node '{target}'"
    assert vm.lock is None


def test_ha_migration_honours_strict_node_affinity(sim: Sim) -> None:
    estate = sim.cluster.estate
    rule = estate.ha_rules["prefer-first"]
    sid = rule.resource_ids()[0]
    vm = estate.guests[int(sid.split(":")[1])]
    allowed = [vm.node, other_node(sim, vm.node)]
    forbidden = next(n for n in estate.nodes if n not in allowed)
    api = prox(sim)
    api.cluster.ha.rules("prefer-first").put(
        type="node-affinity", nodes=f"{allowed[0]}:2,{allowed[1]}:1", strict=1
    )
    info = api.nodes(vm.node).qemu(vm.vmid).migrate.get()
    blocking = info["not_allowed_nodes"][forbidden]["blocking-ha-resources"]
    assert {"sid": sid, "cause": "node-affinity"} in blocking
    online = {"online": 1} if vm.running else {}
    upid = api.nodes(vm.node).qemu(vm.vmid).migrate.post(target=forbidden, **online)
    assert upid.split(":")[5] == "hamigrate"
    status = finish(sim, upid, 5)
    assert "not allowed on node" in status["exitstatus"]
    upid = api.nodes(vm.node).qemu(vm.vmid).migrate.post(target=allowed[1], **online)
    assert finish(sim, upid, 2)["exitstatus"] == "OK"
    sim.advance(200)
    assert vm.node == allowed[1]


def test_node_failure_recovers_ha_guests_within_affinity(sim: Sim) -> None:
    estate = sim.cluster.estate
    rule = estate.ha_rules["prefer-first"]
    sid = rule.resource_ids()[0]
    vm = estate.guests[int(sid.split(":")[1])]
    failed = vm.node
    fallback = other_node(sim, failed)
    api = prox(sim)
    api.cluster.ha.rules("prefer-first").put(
        type="node-affinity", nodes=f"{failed}:2,{fallback}:1", strict=1
    )
    api.cluster.ha.resources(sid).put(state="started")
    sim.control("POST", "node/down", node=failed)
    resources = {r["id"]: r for r in api.cluster.resources.get(type="vm")}
    assert resources[f"qemu/{vm.vmid}"]["status"] == "unknown"
    assert resources[f"qemu/{vm.vmid}"]["hastate"] == "fence"
    sim.advance(120)
    assert vm.node == fallback
    current = api.nodes(fallback).qemu(vm.vmid).status.current.get()
    assert current["status"] == "running"
    assert current["ha"] == {"managed": 1, "state": "started"}
    sim.control("POST", "node/up", node=failed)  # failback to the preferred node
    sim.advance(120)
    assert vm.node == failed
    assert vm.running


def test_local_disks_follow_targetstorage(sim: Sim) -> None:
    estate = sim.cluster.estate
    vm = find_guest(
        sim,
        lambda g: (
            g.kind == "qemu"
            and not g.running
            and not g.lock
            and not g.is_template
            and estate.ha_resource(g) is None
            and g.config["scsi0"].startswith("local-lvm:")
            and not any(k in g.config for k in ("usb0", "hostpci0", "serial0"))
        ),
    )
    target = other_node(sim, vm.node)
    info = prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.get(target=target)
    assert any(d["volid"].startswith("local-lvm:") for d in info["local_disks"])
    upid = (
        prox(sim).nodes(vm.node).qemu(vm.vmid).migrate.post(target=target, targetstorage="ceph-rbd")
    )
    assert finish(sim, upid, 3600)["exitstatus"] == "OK"
    assert any("found local disk 'local-lvm:" in line for line in task_log(sim, upid))
    assert vm.config["scsi0"].startswith(f"ceph-rbd:vm-{vm.vmid}-disk-0,")
