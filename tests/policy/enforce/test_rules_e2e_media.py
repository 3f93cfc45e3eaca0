"""No removable media beyond the CD-ROM case, end to end against pvesim: an ISO from a
storage not approved for ISOs is ejected; a guest an admin adds to a backup job writing
to USB storage is taken out of the job; a backup an admin made on USB storage is
reported for deletion (a person decides); a real USB device is "not possible" for an
API token, with Proxmox's own message, and is not retried at every sync."""

from __future__ import annotations

import pytest

from policy.models import Remediation, Violation
from tests.policy.enforce.e2e import cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu, storages_approve

pytestmark = pytest.mark.django_db(transaction=True)

USB_STORAGE = "usb-backup"  # pvesim's USB disk on alpha1, target of backup-weekly-usb
USB_JOB = "backup-weekly-usb"


@pytest.fixture
def synced(synced):
    """The shared cluster with every storage approved but the USB disk."""
    storages_approve(synced, removable=(USB_STORAGE,))
    return synced


def _job(synced):
    return next(j for j in synced.gateway.backup_jobs() if j.job_id == USB_JOB)


def test_iso_job_and_backup_on_removable_storage(synced, recorder):
    estate = synced.sim.cluster.estate
    on_alpha1 = [g for g in estate.guests.values() if plain_qemu(g) and g.node == "alpha1"]
    job = _job(synced)
    in_job = next(g for g in on_alpha1 if g.vmid not in job.vmids)
    with_iso = next(
        g
        for g in estate.guests.values()
        if plain_qemu(g) and g.vmid != in_job.vmid and g.vmid not in job.vmids
    )
    vms = [synced.vm(in_job.vmid), synced.vm(with_iso.vmid)]
    policy_on("no_removable_media", vms, check_disks=False, approved_iso_storages=["nfs-iso"])
    # The admin's changes: the guest joins the USB backup job and gets a backup on the
    # USB disk; an ISO from "local" (approved for disks, not for ISOs) goes into the other.
    response = synced.sim.api(
        "PUT",
        f"/cluster/backup/{USB_JOB}",
        data={"vmid": ",".join(str(v) for v in (*job.vmids, in_job.vmid))},
    )
    assert response.status_code == 200, response.text
    upid = synced.sim.api(
        "POST", "/nodes/alpha1/vzdump", data={"vmid": in_job.vmid, "storage": USB_STORAGE}
    ).json()["data"]
    synced.sim.advance(3600)
    assert synced.gateway.task_status(upid).ok
    synced.sim.api(
        "PUT",
        f"/nodes/{with_iso.node}/qemu/{with_iso.vmid}/config",
        data={"ide2": "local:iso/debian-12.8.0-amd64-netinst.iso,media=cdrom"},
    )

    first = cycle(synced)

    by_action = {r.action: r for r in first}
    assert by_action["detach_media"].state == "done"
    assert estate.guests[with_iso.vmid].config["ide2"] == "none,media=cdrom"
    backup = next(r for r in first if r.vm.vmid == in_job.vmid)
    # One remediation per guest per cycle: the backup copy ("backup:" sorts before "job:").
    assert (backup.action, backup.state) == ("deletion_request", "not_possible")
    volid = backup.params["volid"]
    assert volid.startswith(f"{USB_STORAGE}:backup/vzdump-qemu-{in_job.vmid}-")
    assert "needs a person's decision" in backup.error
    assert any(
        v.volid == volid for v in synced.gateway.storage_content(node="alpha1", storage=USB_STORAGE)
    )  # reported, never deleted by Steward

    [excluded] = cycle(synced)
    assert (excluded.action, excluded.state) == ("backup_exclude", "done")
    assert in_job.vmid not in _job(synced).vmids
    assert set(_job(synced).vmids) == set(job.vmids)  # the other guests keep their backups

    synced.sync()
    assert open_violation(vms[0], f"backup:{volid}").remediation_state == "not_possible"
    still_open = Violation.objects.filter(resolved_at__isnull=True)
    assert not still_open.filter(vm=vms[0], rule_key=f"job:{USB_JOB}").exists()
    assert not still_open.filter(vm=vms[1], rule_key="ide2").exists()
    # The deletion request is not asked again at every sync.
    assert Remediation.objects.filter(action="deletion_request").count() == 1


def test_usb_passthrough_is_reported_not_possible_for_a_token(synced, recorder):
    guest = synced.guest(plain_qemu)
    vm = synced.vm(guest.vmid)
    policy_on("no_removable_media", [vm], check_disks=False, check_backups=False)
    usb = synced.sim.cluster.estate.nodes[guest.node].usb[0]
    key = synced.sim.control(
        "POST", "guest/attach-usb", vmid=guest.vmid, device=f"{usb.vendid}:{usb.prodid}"
    )["key"]

    [attempt] = cycle(synced)

    assert (attempt.action, attempt.state) == ("remove_device", "not_possible")
    assert "only root" in attempt.error  # Proxmox's own words
    violation = open_violation(vm, key)
    assert violation.remediation_state == "not_possible"
    assert violation.evidence["line"] == f"{key}: host={usb.vendid}:{usb.prodid}"
    assert key in synced.sim.cluster.estate.guests[guest.vmid].config
    writes = len(recorder.writes)
    assert cycle(synced) == []  # held: not retried at every sync
    assert len(recorder.writes) == writes
