"""LXC containers: list/config types, PUT-only config, power tasks, snapshots, migrate
preconditions with dashed keys, interfaces and create from a template."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, prox


def container(sim: Sim, *, running: bool):
    return find_guest(
        sim,
        lambda g: (
            g.kind == "lxc"
            and g.running is running
            and not g.lock
            and sim.cluster.estate.ha_resource(g) is None
        ),
    )


def test_list_and_config_use_lxc_types(sim: Sim) -> None:
    ct = container(sim, running=True)
    items = {i["vmid"]: i for i in prox(sim).nodes(ct.node).lxc.get()}
    assert items[ct.vmid]["type"] == "lxc"
    assert items[ct.vmid]["name"] == ct.config["hostname"]
    assert all(i["vmid"] in sim.cluster.estate.guests for i in items.values())
    config = prox(sim).nodes(ct.node).lxc(ct.vmid).config.get()
    assert isinstance(config["memory"], int)
    assert config["unprivileged"] == 1
    response = sim.api("POST", f"/nodes/{ct.node}/lxc/{ct.vmid}/config", data={"cores": "2"})
    assert response.status_code == 501


def test_running_container_rootfs_change_is_pending(sim: Sim) -> None:
    ct = container(sim, running=True)
    api = prox(sim).nodes(ct.node).lxc(ct.vmid)
    api.config.put(memory=1536, hostname="renamed-ct")
    config = api.config.get(current=1)
    assert config["memory"] == 1536
    assert config["hostname"] == "renamed-ct"
    api.config.put(features="nesting=1,keyctl=1")
    assert {i["key"] for i in api.pending.get() if "pending" in i} == {"features"}


def test_power_and_locks_speak_ct(sim: Sim) -> None:
    ct = container(sim, running=False)
    api = prox(sim).nodes(ct.node).lxc(ct.vmid)
    upid = api.status.start.post()
    assert upid.split(":")[5] == "vzstart"
    assert finish(sim, upid)["exitstatus"] == "OK"
    assert api.status.current.get()["status"] == "running"
    sim.control("POST", "guest/lock", vmid=ct.vmid, lock="backup")
    with pytest.raises(ResourceException, match=r"CT is locked \(backup\)"):
        api.config.put(cores=2)
    assert finish(sim, api.status.stop.post())["exitstatus"] == "CT is locked (backup)"


def test_snapshots_and_migrate_preconditions(sim: Sim) -> None:
    ct = max(
        (g for g in sim.cluster.estate.guests.values() if g.kind == "lxc"),
        key=lambda g: len(g.snapshots),
    )
    api = prox(sim).nodes(ct.node).lxc(ct.vmid)
    assert "vmstate" not in api.snapshot.get()[0]
    upid = api.snapshot.post(snapname="ct_snap")
    assert upid.split(":")[5] == "vzsnapshot"
    finish(sim, upid)
    assert "ct_snap" in {s["name"] for s in api.snapshot.get()}
    info = api.migrate.get()
    assert set(info) == {"running", "allowed-nodes", "not-allowed-nodes"}
    interfaces = api.interfaces.get()
    assert interfaces[0]["name"] == "lo"
    assert interfaces[1]["hwaddr"] == ct.config["net0"].split("hwaddr=")[1].split(",")[0].lower()


def test_create_from_template(sim: Sim) -> None:
    node = sim.first_node()
    api = prox(sim).nodes(node)
    upid = api.lxc.post(
        vmid=777,
        ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        hostname="new-ct",
        rootfs="local-lvm:8",
        net0="name=eth0,bridge=vmbr0,ip=dhcp",
    )
    assert upid.split(":")[5] == "vzcreate"
    finish(sim, upid)
    config = api.lxc(777).config.get()
    assert config["rootfs"] == "local-lvm:vm-777-disk-0,size=8G"
    assert config["ostype"] == "debian"
    assert "hwaddr=BC:24:11:" in config["net0"]
    with pytest.raises(ResourceException, match="does not exist"):
        api.lxc.post(vmid=778, ostemplate="local:vztmpl/nope.tar.zst")


def test_pve8_has_no_lxc_migrate_preconditions(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(pve="8")
    ct = container(sim, running=True)
    response = sim.api("GET", f"/nodes/{ct.node}/lxc/{ct.vmid}/migrate")
    assert response.status_code == 501


def test_a_container_resize_is_checked_before_the_worker(sim: Sim) -> None:
    ct = container(sim, running=False)
    api = prox(sim).nodes(ct.node).lxc(ct.vmid)
    with pytest.raises(ResourceException, match="unable to shrink disk size"):
        api.resize.put(disk="rootfs", size="1M")
    with pytest.raises(ResourceException, match="disk is already at specified size"):
        api.resize.put(disk="rootfs", size="+0G")
    with pytest.raises(ResourceException, match="detected modified configuration"):
        api.resize.put(disk="rootfs", size="+1G", digest="0" * 40)
    before = ct.config["rootfs"]
    assert finish(sim, api.resize.put(disk="rootfs", size="+1G"))["exitstatus"] == "OK"
    assert ct.config["rootfs"] != before


def test_a_running_container_moves_only_in_restart_mode(sim: Sim) -> None:
    ct = container(sim, running=True)
    target = next(n for n in sim.cluster.estate.nodes if n != ct.node)
    api = prox(sim).nodes(ct.node).lxc(ct.vmid)
    with pytest.raises(
        ResourceException, match="can't migrate running container without --online or --restart"
    ):
        api.migrate.post(target=target)
    # pve-container forks, then its prepare refuses a live migration.
    upid = api.migrate.post(target=target, online=1)
    assert finish(sim, upid)["exitstatus"] == "migration aborted"
    log = [line["t"] for line in prox(sim).nodes(ct.node).tasks(upid).log.get(limit=0)]
    assert "lxc live migration is currently not implemented" in log[-2]
    assert ct.node != target
    assert ct.lock is None
    assert finish(sim, api.migrate.post(target=target, restart=1))["exitstatus"] == "OK"
    assert ct.node == target


def test_a_locked_container_is_refused_by_the_migration_worker(sim: Sim) -> None:
    ct = container(sim, running=False)
    target = next(n for n in sim.cluster.estate.nodes if n != ct.node)
    sim.control("POST", "guest/lock", vmid=ct.vmid, lock="backup")
    upid = prox(sim).nodes(ct.node).lxc(ct.vmid).migrate.post(target=target)
    assert finish(sim, upid)["exitstatus"] == "migration aborted"
    assert ct.lock == "backup"
    assert ct.node != target


def test_destroy_checks_a_container_before_forking(sim: Sim) -> None:
    running = container(sim, running=True)
    api = prox(sim).nodes(running.node).lxc(running.vmid)
    with pytest.raises(
        ResourceException, match=f"unable to destroy CT {running.vmid} - container is running"
    ):
        api.delete()
    stopped = container(sim, running=False)
    sim.control("POST", "guest/lock", vmid=stopped.vmid, lock="backup")
    with pytest.raises(ResourceException, match=r"CT is locked \(backup\)"):
        prox(sim).nodes(stopped.node).lxc(stopped.vmid).delete()
    assert stopped.vmid in sim.cluster.estate.guests
