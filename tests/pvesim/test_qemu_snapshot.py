"""Snapshots over the API: lock during the task, RAM state, rollback, delete, errors."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, prox


def showcase_vm(sim: Sim):
    return max(
        (g for g in sim.cluster.estate.guests.values() if g.kind == "qemu"),
        key=lambda g: len(g.snapshots),
    )


def test_snapshot_with_ram_locks_during_the_task(sim: Sim) -> None:
    vm = showcase_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    upid = api.snapshot.post(snapname="before_patch", vmstate=1, description="patch day")
    assert upid.split(":")[5] == "qmsnapshot"
    sim.advance(0.5)
    assert api.config.get()["lock"] == "snapshot"
    assert finish(sim, upid)["exitstatus"] == "OK"
    items = {s["name"]: s for s in api.snapshot.get()}
    assert items["before_patch"]["vmstate"] == 1
    assert items["before_patch"]["description"] == "patch day"
    assert items["current"]["parent"] == "before_patch"
    assert items["current"]["running"] == 1
    assert "lock" not in api.config.get()
    again = api.snapshot.post(snapname="before_patch")
    assert finish(sim, again)["exitstatus"] == "snapshot name 'before_patch' already used"
    with pytest.raises(ResourceException, match="reserved name"):
        api.snapshot.post(snapname="current")


def test_rollback_restores_config_and_delete_drops_snapshot(sim: Sim) -> None:
    vm = showcase_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    cores = api.config.get()["cores"]
    finish(sim, api.snapshot.post(snapname="s1"))
    api.config.put(cores=cores + 2)
    assert finish(sim, api.snapshot("s1").rollback.post())["exitstatus"] == "OK"
    assert api.config.get()["cores"] == cores
    assert api.snapshot("s1").config.get()["cores"] == cores
    assert finish(sim, api.snapshot("s1").delete())["exitstatus"] == "OK"
    assert "s1" not in {s["name"] for s in api.snapshot.get()}
    # qemu-server forks first; the worker finds the snapshot missing.
    missing = finish(sim, api.snapshot("nope").rollback.post())
    assert missing["exitstatus"] == "snapshot 'nope' does not exist"
    gone = finish(sim, api.snapshot("s1").delete())
    assert gone["exitstatus"] == "snapshot 's1' does not exist"
    assert vm.lock is None


def test_snapshot_of_a_locked_vm_fails_in_the_task(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template)
    sim.control("POST", "guest/lock", vmid=vm.vmid, lock="backup")
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).snapshot.post(snapname="xx")
    assert finish(sim, upid)["exitstatus"] == "VM is locked (backup)"
    # A delete looks for the snapshot before it takes its lock.
    upid = prox(sim).nodes(vm.node).qemu(vm.vmid).snapshot("nope").delete()
    assert finish(sim, upid)["exitstatus"] == "snapshot 'nope' does not exist"
    sim.control("POST", "guest/unlock", vmid=vm.vmid)
    assert vm.lock is None


def test_out_of_band_snapshot_shows_up(sim: Sim) -> None:
    vm = showcase_vm(sim)
    sim.control("POST", "guest/snapshot", vmid=vm.vmid, snapname="admin_gui", vmstate=1)
    items = {s["name"]: s for s in prox(sim).nodes(vm.node).qemu(vm.vmid).snapshot.get()}
    assert items["admin_gui"]["vmstate"] == 1
