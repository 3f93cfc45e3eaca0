"""Snapshot tree: create, list, rollback, delete with re-parenting."""

import pytest

from pvesim.model import Guest, ModelError
from pvesim.model.snapshots import (
    snapshot_create,
    snapshot_delete,
    snapshot_list,
    snapshot_rollback,
)


def make_vm() -> Guest:
    return Guest(
        vmid=100,
        kind="qemu",
        node="pve1",
        config={"name": "a", "cores": "2", "lock": "snapshot", "unused0": "x:vm-100-disk-9"},
    )


def test_snapshot_chain_and_current_entry():
    vm = make_vm()
    snapshot_create(vm, name="s1", description="first", snaptime=10, vmstate=None)
    vm.config["cores"] = "4"
    snapshot_create(vm, name="s2", description="", snaptime=20, vmstate="local-lvm:vm-100-state-s2")
    assert "lock" not in vm.snapshots["s1"]
    assert "unused0" not in vm.snapshots["s1"]
    assert vm.snapshots["s2"]["parent"] == "s1"
    assert vm.config["parent"] == "s2"
    items = snapshot_list(vm, digest="d")
    assert [i["name"] for i in items] == ["s1", "s2", "current"]
    assert items[1]["vmstate"] == 1
    assert items[0]["vmstate"] == 0
    assert items[-1] == {
        "name": "current",
        "description": "You are here!",
        "digest": "d",
        "running": 0,
        "parent": "s2",
    }
    assert "[s2]" in vm.render()


def test_rollback_restores_config_and_delete_reparents():
    vm = make_vm()
    snapshot_create(vm, name="s1", description="", snaptime=10, vmstate=None)
    vm.config["cores"] = "8"
    snapshot_create(vm, name="s2", description="", snaptime=20, vmstate=None)
    vm.config["cores"] = "16"
    assert snapshot_rollback(vm, "s1") is False
    assert vm.config["cores"] == "2"
    assert vm.config["parent"] == "s1"
    assert vm.config["unused0"] == "x:vm-100-disk-9"
    snapshot_delete(vm, "s1")
    assert "parent" not in vm.snapshots["s2"]
    assert "parent" not in vm.config


def test_duplicate_and_unknown_snapshots_fail_like_pve():
    vm = make_vm()
    snapshot_create(vm, name="s1", description="", snaptime=10, vmstate=None)
    with pytest.raises(ModelError, match="snapshot name 's1' already used"):
        snapshot_create(vm, name="s1", description="", snaptime=11, vmstate=None)
    with pytest.raises(ModelError, match="snapshot 'nope' does not exist"):
        snapshot_rollback(vm, "nope")
