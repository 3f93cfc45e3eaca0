"""The gateway's provisioning calls against pvesim over HTTPS: clone, create (incl.
``import-from``), template conversion, destruction, remote migration, backup, rollback, node
task lists and user mappings each start the task PVE starts and leave what PVE leaves."""

from __future__ import annotations

import pytest

from inventory.proxmox import ProxmoxError, ProxmoxGateway, ProxmoxNotFound
from inventory.proxmox.provisioning import import_disk_option, remote_endpoint_spec
from inventory.proxmox.types import Upid
from pvesim.model import Guest
from pvesim.testing import RunningSim


def _finish(gw: ProxmoxGateway, sim: RunningSim, upid: str, seconds: float = 3600) -> str:
    sim.advance(seconds)
    task = gw.task_status(upid)
    assert not task.running, task
    return task.status


def _plain_vm(sim: RunningSim, *, running: bool) -> Guest:
    estate = sim.cluster.estate
    return next(
        g
        for g in estate.guests.values()
        if g.kind == "qemu"
        and g.running is running
        and not g.is_template
        and not g.lock
        and not g.snapshots  # PVE makes no template of a guest with snapshots
        and estate.ha_resource(g) is None
        and not any(k.startswith(("usb", "hostpci", "serial")) for k in g.config)
    )


def test_clone_of_a_template_makes_a_named_guest_on_the_target_node(root_sim, gw):
    template = next(g for g in root_sim.cluster.estate.guests.values() if g.is_template)
    newid = gw.next_vmid()
    upid = gw.guest_clone(
        node=template.node,
        kind="qemu",
        vmid=template.vmid,
        newid=newid,
        name="web-1",
        full=True,
        storage="ceph-rbd",
        target="alpha2",
    )
    assert Upid.parse(upid).type == "qmclone"
    assert _finish(gw, root_sim, upid) == "OK"
    config = gw.guest_config(node="alpha2", kind="qemu", vmid=newid)
    assert config.values["name"] == "web-1"
    assert "lock" not in config.values
    assert gw.next_vmid() != newid


def test_create_with_import_from_copies_the_image_onto_the_approved_storage(root_sim, gw):
    newid = gw.next_vmid()
    disk = import_disk_option(storage="local-lvm", source="local:import/router-appliance.qcow2")
    upid = gw.guest_create(
        node="alpha1",
        kind="qemu",
        vmid=newid,
        values={"name": "router", "memory": 1024, "scsi0": disk, "net0": "virtio,bridge=vmbr0"},
    )
    assert Upid.parse(upid).type == "qmcreate"
    assert _finish(gw, root_sim, upid) == "OK"
    config = gw.guest_config(node="alpha1", kind="qemu", vmid=newid)
    assert config.values["scsi0"].startswith(f"local-lvm:vm-{newid}-disk-0")
    assert "size=2G" in config.values["scsi0"]


def test_create_of_a_missing_import_source_fails_its_task(root_sim, gw):
    # qemu-server only meets the missing image inside its create worker.
    disk = import_disk_option(storage="local-lvm", source="local:import/nothing.qcow2")
    vmid = gw.next_vmid()
    upid = gw.guest_create(node="alpha1", kind="qemu", vmid=vmid, values={"scsi0": disk})
    status = _finish(gw, root_sim, upid)
    assert status == (
        f"unable to create VM {vmid} - failed to stat '/var/lib/vz/import/nothing.qcow2'"
    )
    assert vmid not in root_sim.cluster.estate.guests


def test_create_refuses_config_values_that_are_arguments(gw):
    with pytest.raises(ValueError, match="as arguments"):
        gw.guest_create(node="alpha1", kind="qemu", vmid=500, values={"start": 1})


def test_remote_migration_moves_a_guest_to_another_cluster(make_sim, endpoint_for, root_sim, gw):
    target = make_sim(identity="root", seed=2)
    target_endpoint = endpoint_for(
        target, token_id=target.root_token_id, token_secret=target.root_token_secret
    )
    target_gw = ProxmoxGateway(target_endpoint)
    guest = _plain_vm(root_sim, running=False)
    new_vmid = target_gw.next_vmid()
    upid = gw.guest_remote_migrate(
        node=guest.node,
        kind="qemu",
        vmid=guest.vmid,
        target=target_endpoint,
        target_vmid=new_vmid,
        target_storage="local-lvm",
        target_bridge="vmbr0",
        delete=True,
    )
    assert Upid.parse(upid).type == "qmigrate"
    assert _finish(gw, root_sim, upid) == "OK"
    arrived = next(g for g in target_gw.resources().guests if g.vmid == new_vmid)
    assert arrived.name == guest.name
    with pytest.raises(ProxmoxNotFound):
        gw.guest_status(node=guest.node, kind="qemu", vmid=guest.vmid)


def test_remote_endpoint_spec_needs_a_pinned_fingerprint(root_sim, endpoint_for):
    spec = remote_endpoint_spec(endpoint_for(root_sim))
    assert spec.startswith(f"apitoken=PVEAPIToken={root_sim.token_id}=")
    assert "fingerprint=" in spec
    assert spec.count(":") >= 31
    unpinned = endpoint_for(root_sim, fingerprint="", insecure=True)
    with pytest.raises(ValueError, match="fingerprint"):
        remote_endpoint_spec(unpinned)


def test_vzdump_writes_an_archive_that_can_be_deleted(root_sim, gw):
    guest = _plain_vm(root_sim, running=True)
    upid = gw.vzdump(node=guest.node, vmid=guest.vmid, storage="nfs-iso")
    assert Upid.parse(upid).type == "vzdump"
    assert _finish(gw, root_sim, upid) == "OK"
    archives = [
        v.volid
        for v in gw.storage_content(node=guest.node, storage="nfs-iso")
        if f"-{guest.vmid}-" in v.volid
    ]
    assert len(archives) == 1
    deletion = gw.storage_volume_delete(node=guest.node, storage="nfs-iso", volid=archives[0])
    assert _finish(gw, root_sim, deletion) == "OK"
    assert archives[0] not in {
        v.volid for v in gw.storage_content(node=guest.node, storage="nfs-iso")
    }


def test_snapshot_rollback_is_a_task_and_refuses_current(root_sim, gw):
    guest = _plain_vm(root_sim, running=False)
    root_sim.control("POST", "guest/snapshot", vmid=guest.vmid, snapname="before")
    upid = gw.snapshot_rollback(node=guest.node, kind="qemu", vmid=guest.vmid, name="before")
    assert Upid.parse(upid).type == "qmrollback"
    assert _finish(gw, root_sim, upid) == "OK"
    with pytest.raises(ValueError, match="current"):
        gw.snapshot_rollback(node=guest.node, kind="qemu", vmid=guest.vmid, name="current")


def test_node_tasks_filters_running_console_tasks_by_user(root_sim, gw):
    guest = _plain_vm(root_sim, running=True)
    gw.user_ensure(userid="alice@pve")
    root_sim.api(
        "PUT",
        "/access/acl",
        data={"path": f"/vms/{guest.vmid}", "roles": "PVEVMUser", "users": "alice@pve"},
    )
    token = root_sim.api("POST", "/access/users/alice@pve/token/console", data={"privsep": 0})
    secret = token.json()["data"]["value"]
    opened = root_sim.session.post(
        f"{root_sim.url}/api2/json/nodes/{guest.node}/qemu/{guest.vmid}/vncproxy",
        headers={"Authorization": f"PVEAPIToken=alice@pve!console={secret}"},
        verify=str(root_sim.cert_file),
        timeout=10,
    )
    assert opened.status_code == 200, opened.text
    root_sim.advance(1)
    consoles = gw.node_tasks(
        node=guest.node, userfilter="alice@pve", typefilter="vncproxy", running_only=True
    )
    assert [t.id for t in consoles] == [str(guest.vmid)]
    assert not gw.node_tasks(node=guest.node, userfilter="bob@pve", running_only=True)
    gw.task_stop(consoles[0].upid)
    root_sim.advance(1)
    assert not gw.node_tasks(
        node=guest.node, userfilter="alice@pve", typefilter="vncproxy", running_only=True
    )


def test_user_ensure_creates_once(gw):
    assert gw.user_ensure(userid="grantee@pve", comment="steward access") is True
    assert gw.user_ensure(userid="grantee@pve") is False
    assert "grantee@pve" in {u.userid for u in gw.users()}


def test_template_converts_a_stopped_vm_and_proxmox_shows_template(root_sim, gw):
    guest = _plain_vm(root_sim, running=False)
    upid = gw.guest_template(node=guest.node, kind="qemu", vmid=guest.vmid)
    assert Upid.parse(upid).type == "qmtemplate"
    assert _finish(gw, root_sim, upid) == "OK"
    config = gw.guest_config(node=guest.node, kind="qemu", vmid=guest.vmid)
    assert str(config.values.get("template")) == "1"
    assert any(g.vmid == guest.vmid and g.template for g in gw.resources().guests)


def test_template_of_a_running_vm_is_refused(root_sim, gw):
    guest = _plain_vm(root_sim, running=True)
    with pytest.raises(ProxmoxError, match="running"):
        gw.guest_template(node=guest.node, kind="qemu", vmid=guest.vmid)


def test_destroy_removes_a_stopped_vm_and_refuses_a_running_one(root_sim, gw):
    running = _plain_vm(root_sim, running=True)
    with pytest.raises(ProxmoxError, match="running"):
        gw.guest_destroy(node=running.node, kind="qemu", vmid=running.vmid)
    guest = _plain_vm(root_sim, running=False)
    upid = gw.guest_destroy(node=guest.node, kind="qemu", vmid=guest.vmid)
    assert Upid.parse(upid).type == "qmdestroy"
    assert _finish(gw, root_sim, upid) == "OK"
    with pytest.raises(ProxmoxNotFound):
        gw.guest_config(node=guest.node, kind="qemu", vmid=guest.vmid)
