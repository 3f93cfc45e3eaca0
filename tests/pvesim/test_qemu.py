"""QEMU config, digest, pending changes, locks, power and node addressing over HTTPS."""

from __future__ import annotations

import hashlib
import re

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import finish, limited_auth, plain_vm, prox, task_log, task_status


def stopped_vm(sim: Sim):
    return plain_vm(sim)


def running_vm(sim: Sim):
    return plain_vm(sim, running=True)


def test_config_types_and_digest_match_pve(sim: Sim) -> None:
    vm = stopped_vm(sim)
    config = prox(sim).nodes(vm.node).qemu(vm.vmid).config.get()
    assert isinstance(config["memory"], str)
    assert isinstance(config["cores"], int)
    expected = hashlib.sha1(vm.render().encode(), usedforsecurity=False).hexdigest()
    assert config["digest"] == expected
    assert config["name"] == vm.config["name"]


def test_wrong_node_answers_like_a_missing_config_file(sim: Sim) -> None:
    vm = stopped_vm(sim)
    other = next(n for n in sim.cluster.estate.nodes if n != vm.node)
    response = sim.api("GET", f"/nodes/{other}/qemu/{vm.vmid}/config")
    assert response.status_code == 500
    assert response.reason == (
        f"Configuration file 'nodes/{other}/qemu-server/{vm.vmid}.conf' does not exist"
    )
    response = sim.api("GET", f"/nodes/nowhere/qemu/{vm.vmid}/config")
    assert response.status_code == 500
    assert response.reason == "no such cluster node 'nowhere'"


def test_stale_digest_and_empty_update_are_refused(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).config
    digest = api.get()["digest"]
    api.put(cores=3, digest=digest)
    with pytest.raises(ResourceException, match="checksum mismatch"):
        api.put(cores=4, digest=digest)
    with pytest.raises(ResourceException, match="no options specified"):
        api.put()
    assert api.get()["cores"] == 3


def test_delete_moves_disk_to_unused_and_conflicts_are_400(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).config
    volid = vm.config["scsi0"].split(",")[0]
    api.put(delete="scsi0")
    assert api.get()["unused0"] == volid
    response = sim.api(
        "PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", data={"cores": "2", "delete": "cores"}
    )
    assert response.status_code == 400
    assert "delete" in response.json()["errors"]


def test_running_vm_keeps_cold_changes_pending_until_restart(sim: Sim) -> None:
    vm = running_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    old_cores = int(vm.config["cores"])
    api.config.put(cores=old_cores + 1, name="renamed-live")
    assert api.config.get(current=1)["cores"] == old_cores
    assert api.config.get()["cores"] == old_cores + 1
    assert api.config.get(current=1)["name"] == "renamed-live"
    pending = {item["key"]: item for item in api.pending.get()}
    assert pending["cores"]["pending"] == str(old_cores + 1)
    upid = api.status.reboot.post()
    assert finish(sim, upid)["exitstatus"] == "OK"
    assert api.config.get(current=1)["cores"] == old_cores + 1
    assert "pending" not in {k for item in api.pending.get() for k in item}


def test_start_and_stop_run_as_tasks_with_state_at_the_end(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    upid = api.status.start.post()
    assert upid.startswith(f"UPID:{vm.node}:")
    assert upid.split(":")[5:8] == ["qmstart", str(vm.vmid), "root@pam!steward"]
    assert api.status.current.get()["status"] == "stopped"
    assert finish(sim, upid)["exitstatus"] == "OK"
    assert api.status.current.get()["status"] == "running"
    second = api.status.start.post()
    status = finish(sim, second)
    assert status["exitstatus"] == f"VM {vm.vmid} already running"
    assert task_log(sim, second)[-1] == f"TASK ERROR: VM {vm.vmid} already running"
    # A hibernated VM carries lock 'suspended'; vm_start resumes it instead of refusing.
    assert finish(sim, api.status.suspend.post(todisk=1))["exitstatus"] == "OK"
    assert api.status.current.get()["lock"] == "suspended"
    assert finish(sim, api.status.start.post())["exitstatus"] == "OK"
    assert "lock" not in api.status.current.get()
    hibernated = plain_vm(sim, running=True)
    other = prox(sim).nodes(hibernated.node).qemu(hibernated.vmid)
    assert finish(sim, other.status.suspend.post(todisk=1))["exitstatus"] == "OK"
    assert finish(sim, other.delete())["exitstatus"] == "OK"  # destroy_vm lets it go
    assert hibernated.vmid not in sim.cluster.estate.guests
    assert finish(sim, api.status.stop.post())["exitstatus"] == "OK"
    with pytest.raises(ResourceException, match=f"VM {vm.vmid} not running"):
        api.status.reboot.post()


def test_locked_vm_refuses_config_and_fails_start_task(sim: Sim) -> None:
    vm = stopped_vm(sim)
    vm.config["lock"] = "backup"
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    with pytest.raises(ResourceException, match=r"VM is locked \(backup\)"):
        api.config.put(cores=2)
    upid = api.status.start.post()
    assert finish(sim, upid)["exitstatus"] == "VM is locked (backup)"
    response = sim.api(
        "PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", data={"cores": "2", "skiplock": "1"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"skiplock": "Only root may use this option."}
    assert api.status.current.get()["lock"] == "backup"


def test_root_only_keys_and_real_usb_need_root(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).config
    with pytest.raises(ResourceException, match="only root can set 'usb1' config for real devices"):
        api.put(usb1="host=1050:0407")
    with pytest.raises(ResourceException, match="only root can set 'args' config"):
        api.put(args="-no-reboot")
    api.put(usb1="spice", serial1="socket")
    assert api.get()["usb1"] == "spice"


def test_tags_are_normalised(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).config
    api.put(tags="Prod,web;prod")
    assert api.get()["tags"] == "prod;web"


def test_task_ids_and_post_config_task(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid)
    upid = api.config.post(memory="4096")
    assert upid.split(":")[5] == "qmconfig"
    assert task_status(sim, upid)["status"] == "running"
    finish(sim, upid, 5)
    assert api.config.get()["memory"] == "4096"


def test_cdrom_media_must_exist_and_new_disks_need_storage_rights(sim: Sim) -> None:
    vm = stopped_vm(sim)
    api = prox(sim).nodes(vm.node).qemu(vm.vmid).config
    with pytest.raises(ResourceException, match=r"volume local:iso/nope\.iso does not exist"):
        api.put(ide2="local:iso/nope.iso,media=cdrom")
    api.put(ide2="local:iso/debian-12.8.0-amd64-netinst.iso,media=cdrom")
    assert api.get()["ide2"].startswith("local:iso/debian-12.8.0")
    auth = limited_auth(sim, "frank@pve", path=f"/vms/{vm.vmid}", roles="PVEVMAdmin")
    response = sim.api(
        "PUT",
        f"/nodes/{vm.node}/qemu/{vm.vmid}/config",
        auth=auth,
        data={"scsi5": "local-lvm:8"},
    )
    assert response.status_code == 403
    assert (
        response.reason == "Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)"
    )
    no_images = sim.api(
        "PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", data={"scsi5": "nfs-iso:8"}
    )
    assert no_images.status_code == 400
    assert no_images.json()["errors"] == {"storage": "storage 'nfs-iso' does not support vm images"}
    used = {value.split(",")[0] for value in vm.config.values()}
    api.put(scsi5="local-lvm:8")
    volid, size = api.get()["scsi5"].split(",")
    assert re.fullmatch(rf"local-lvm:vm-{vm.vmid}-disk-\d+", volid)
    assert volid not in used
    assert size == "size=8G"
