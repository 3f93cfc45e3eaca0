"""vzdump tasks (lock backup per guest, new backup volumes), backup jobs, not-backed-up."""

from __future__ import annotations

import pytest
from proxmoxer import ResourceException

from tests.pvesim.conftest import Sim
from tests.pvesim.guest_helpers import find_guest, finish, limited_auth, prox, task_log


def test_vzdump_locks_the_guest_and_stores_a_backup(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template and not g.lock)
    api = prox(sim).nodes(vm.node)
    before = {i["volid"] for i in api.storage("pbs").content.get(vmid=vm.vmid)}
    upid = api.vzdump.post(vmid=vm.vmid, storage="pbs", mode="snapshot")
    assert upid.split(":")[5:7] == ["vzdump", str(vm.vmid)]
    sim.advance(1.2)
    assert api.qemu(vm.vmid).config.get()["lock"] == "backup"
    assert finish(sim, upid, 600)["exitstatus"] == "OK"
    assert "lock" not in api.qemu(vm.vmid).config.get()
    after = {i["volid"] for i in api.storage("pbs").content.get(vmid=vm.vmid)}
    new = after - before
    assert len(new) == 1
    assert next(iter(new)).startswith(f"pbs:backup/vm/{vm.vmid}/")


def test_vzdump_of_a_locked_guest_reports_job_errors(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template and not g.lock)
    sim.control("POST", "guest/lock", vmid=vm.vmid, lock="snapshot")
    upid = prox(sim).nodes(vm.node).vzdump.post(vmid=vm.vmid, storage="local")
    assert finish(sim, upid, 600)["exitstatus"] == "job errors"
    assert f"ERROR: Backup of VM {vm.vmid} failed - VM is locked (snapshot)" in task_log(sim, upid)


def test_vzdump_needs_vm_backup_and_storage_rights(sim: Sim) -> None:
    vm = find_guest(sim, lambda g: g.kind == "qemu" and not g.is_template)
    auth = limited_auth(sim, "bob@pve", path="/storage/local", roles="PVEDatastoreUser")
    response = sim.api(
        "POST", f"/nodes/{vm.node}/vzdump", auth=auth, data={"vmid": vm.vmid, "storage": "local"}
    )
    assert response.status_code == 403
    assert response.reason == f"Permission check failed (/vms/{vm.vmid}, VM.Backup)"


def test_backup_jobs_crud_and_next_run(sim: Sim) -> None:
    api = prox(sim).cluster.backup
    jobs = {j["id"]: j for j in api.get()}
    assert jobs["backup-nightly"]["schedule"] == "21:00"
    assert jobs["backup-nightly"]["next-run"] > 0
    assert "next-run" not in jobs["backup-dev-pool"]  # disabled
    api.post(id="backup-extra", schedule="sat 02:00", vmid="100,101", storage="local")
    assert api("backup-extra").get()["vmid"] == "100,101"
    api("backup-extra").put(schedule="sun 03:30", delete="vmid", all=1)
    job = api("backup-extra").get()
    assert job["all"] == 1
    assert "vmid" not in job
    with pytest.raises(ResourceException, match="unable to parse calendar event"):
        api("backup-extra").put(schedule="whenever")
    api("backup-extra").delete()
    with pytest.raises(ResourceException, match="does not exist"):
        api("backup-extra").get()


def test_not_backed_up_lists_guests_outside_every_job(sim: Sim) -> None:
    api = prox(sim).cluster
    assert api("backup-info")("not-backed-up").get() == []  # the nightly job covers all
    api.backup("backup-nightly").put(all=0, vmid="100")
    missing = {g["vmid"] for g in api("backup-info")("not-backed-up").get()}
    assert 100 not in missing
    assert len(missing) > 5
