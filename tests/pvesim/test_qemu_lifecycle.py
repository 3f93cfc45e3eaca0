"""Create (incl. import-from), clone (linked/full), template, resize, destroy, consoles,
agent, nextid."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, limited_auth, plain_vm, prox, task_status


def test_create_with_import_from_allocates_the_disk(sim: Sim) -> None:
    api = prox(sim)
    node = sim.first_node()
    vmid = int(api.cluster.nextid.get())
    assert isinstance(api.cluster.nextid.get(), str)
    upid = api.nodes(node).qemu.post(
        vmid=vmid,
        name="imported",
        memory="2048",
        scsi0="local-lvm:0,import-from=local:import/router-appliance.qcow2",
        net0="virtio,bridge=vmbr0",
    )
    assert upid.split(":")[5] == "qmcreate"
    assert api.nodes(node).qemu(vmid).config.get()["lock"] == "create"
    assert finish(sim, upid)["exitstatus"] == "OK"
    config = api.nodes(node).qemu(vmid).config.get()
    assert config["scsi0"] == f"local-lvm:vm-{vmid}-disk-0,size=2G"
    assert config["net0"].startswith("virtio=BC:24:11:")
    assert config["smbios1"].startswith("uuid=")
    assert "lock" not in config
    response = sim.api("GET", "/cluster/nextid", params={"vmid": vmid})
    assert response.status_code == 400
    assert response.json()["errors"] == {"vmid": f"VM {vmid} already exists"}
    taken = f"unable to create VM {vmid} - VM {vmid} already exists on node '{node}'"
    with pytest.raises(ResourceException, match=taken):
        api.nodes(node).qemu.post(vmid=vmid)
    other = next(n for n in sim.cluster.estate.nodes if n != node)
    with pytest.raises(ResourceException, match=f"unable to create CT {vmid} - VM {vmid}"):
        api.nodes(other).lxc.post(vmid=vmid, ostemplate="local:vztmpl/none.tar.zst")
    with pytest.raises(ResourceException) as no_pool:
        api.nodes(node).qemu.post(vmid=vmid + 1, pool="nowhere")
    assert no_pool.value.status_code == 403
    assert "Permission check failed (pool 'nowhere' does not exist)" in str(no_pool.value)


def test_a_missing_import_source_fails_the_create_task(sim: Sim) -> None:
    """qemu-server meets a missing source only in the worker's create_disks."""
    node = sim.first_node()
    qemu = prox(sim).nodes(node).qemu
    upid = qemu.post(vmid=4300, scsi0="local-lvm:0,import-from=local:import/gone.qcow2")
    assert qemu(4300).config.get()["lock"] == "create"
    status = finish(sim, upid)
    assert status["exitstatus"] == (
        "unable to create VM 4300 - failed to stat '/var/lib/vz/import/gone.qcow2'"
    )
    assert 4300 not in sim.cluster.estate.guests
    upid = qemu.post(vmid=4301, scsi0="local-lvm:0,import-from=local-lvm:vm-999999-disk-0")
    assert finish(sim, upid)["exitstatus"] == (
        "unable to create VM 4301 - cannot import from 'local-lvm:vm-999999-disk-0' - "
        "could not get size of local-lvm:vm-999999-disk-0"
    )
    assert 4301 not in sim.cluster.estate.guests


def test_linked_clone_of_a_template(sim: Sim) -> None:
    template = find_guest(sim, lambda g: g.is_template)
    api = prox(sim).nodes(template.node).qemu(template.vmid)
    newid = 4242
    upid = api.clone.post(newid=newid)
    assert upid.split(":")[5:7] == ["qmclone", str(template.vmid)]
    assert prox(sim).nodes(template.node).qemu(newid).config.get()["lock"] == "clone"
    assert finish(sim, upid)["exitstatus"] == "OK"
    clone = prox(sim).nodes(template.node).qemu(newid).config.get()
    base = template.config["scsi0"].split(",")[0].split(":")[1]
    assert clone["scsi0"].split(",")[0].endswith(f"{base}/vm-{newid}-disk-0")
    assert clone["name"] == f"Copy-of-VM-{template.name}"
    assert "template" not in clone
    assert clone["net0"] != template.config["net0"]
    response = sim.api(
        "POST",
        f"/nodes/{template.node}/qemu/{template.vmid}/clone",
        data={"newid": 4243, "full": "0", "storage": "local-lvm"},
    )
    assert response.status_code == 400


def test_full_clone_and_template_conversion(sim: Sim) -> None:
    vm = plain_vm(sim)
    api = prox(sim)
    finish(sim, api.nodes(vm.node).qemu(vm.vmid).clone.post(newid=5000, name="copy"), 7200)
    assert api.nodes(vm.node).qemu(5000).config.get()["name"] == "copy"
    finish(sim, api.nodes(vm.node).qemu(5000).snapshot.post(snapname="before"))
    with pytest.raises(ResourceException, match="because VM contains snapshots"):
        api.nodes(vm.node).qemu(5000).template.post()
    finish(sim, api.nodes(vm.node).qemu(5000).snapshot("before").delete())
    upid = api.nodes(vm.node).qemu(5000).template.post()
    assert finish(sim, upid)["exitstatus"] == "OK"
    config = api.nodes(vm.node).qemu(5000).config.get()
    assert config["template"] == 1
    assert ":base-5000-disk-0" in config["scsi0"]
    # vm_start looks at the template flag before the lock.
    sim.control("POST", "guest/lock", vmid=5000, lock="backup")
    assert finish(sim, api.nodes(vm.node).qemu(5000).status.start.post())["exitstatus"] == (
        "you can't start a vm if it's a template"
    )


def test_resize_and_destroy_rules(sim: Sim) -> None:
    vm = plain_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    old = vm.config["scsi0"]
    finish(sim, api.resize.put(disk="scsi0", size="+10G"))
    assert api.config.get()["scsi0"] != old
    # qemu-server checks a resize inside the worker: the refusal fails the task.
    shrink = finish(sim, api.resize.put(disk="scsi0", size="1G"))
    assert shrink["exitstatus"] == "shrinking disks is not supported"
    stale = finish(sim, api.resize.put(disk="scsi0", size="+1G", digest="0" * 40))
    assert stale["exitstatus"] == "checksum mismatch (file change by other user?)"
    grown = api.config.get()["scsi0"]
    assert finish(sim, api.resize.put(disk="scsi0", size="+0G"))["exitstatus"] == "OK"
    assert api.config.get()["scsi0"] == grown
    api.config.put(protection=1)
    with pytest.raises(ResourceException, match="protection mode enabled"):
        api.delete()
    api.config.put(delete="protection")
    limited_auth(sim, "owner@pve", path=f"/vms/{vm.vmid}", roles="PVEVMUser")
    upid = api.delete()
    assert upid.split(":")[5] == "qmdestroy"
    finish(sim, upid)
    assert vm.vmid not in sim.cluster.estate.guests
    assert f"/vms/{vm.vmid}" not in sim.cluster.access.acl_by_path()


def test_console_proxy_runs_until_stopped(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and g.running)
    data = prox(sim).nodes(vm.node).qemu(vm.vmid).vncproxy.post(websocket=1)
    assert data["ticket"].startswith("PVEVNC:")
    upid = data["upid"]
    sim.advance(600)
    assert task_status(sim, upid)["status"] == "running"
    response = sim.api("DELETE", f"/nodes/{vm.node}/tasks/{upid}")
    assert response.status_code == 200
    assert task_status(sim, upid)["status"] == "stopped"


def test_guest_agent_answers_for_running_vm_with_agent(sim: Sim) -> None:
    vm = max(
        (g for g in sim.cluster.estate.guests.values() if g.kind == "qemu"),
        key=lambda g: len(g.snapshots),
    )
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).agent
    assert api("get-osinfo").get()["result"]["id"] in {"debian", "ubuntu", "rocky", "mswindows"}
    interfaces = api("network-get-interfaces").get()["result"]
    macs = {i["hardware-address"] for i in interfaces}
    mac = vm.config["net0"].split(",")[0].split("=")[1].lower()
    assert mac in macs
    stopped = find_guest(sim, lambda g: g.kind == "qemu" and not g.running and "agent" in g.config)
    with pytest.raises(ResourceException, match="not running"):
        prox(sim).nodes(stopped.node).qemu(stopped.vmid).agent("get-osinfo").get()
