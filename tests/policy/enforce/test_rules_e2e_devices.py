"""No removable media for the device kinds the pure tests cover, end to end against
pvesim: PCI passthrough, a host serial port, the host's physical CD-ROM drive and a disk
on storage not classed approved. Each is added the way an admin would, detected after the
next sync, acted on in enforce mode as far as Proxmox lets Steward's API token, and only
reported in audit mode.

Real host devices (``hostpciN: <address>``, ``serialN: /dev/...``) can only be changed by
root@pam signed in (PVE refuses every API token, root's included). Steward's removal is
therefore "not possible" with PVE's own words and is not retried at every sync. When a
removal is pending (root@pam deleted the device while the guest ran: PVE applies it at
the next cold start), the violation says so and nothing is written again until the guest
restarts cold, after which the violation resolves.
"""

from __future__ import annotations

import pytest

from inventory.models import Storage, StorageClass
from policy.models import Remediation, Violation
from policy.services import policy_dry_run
from policy.yaml_io import document_of
from tests.policy.enforce.admin import RootAdmin
from tests.policy.enforce.e2e import cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu, remediation_make, run_to_end, storages_approve

pytestmark = pytest.mark.django_db(transaction=True)

PCI = "0000:01:00.0,pcie=1"
NO_DEVICE_KEYS = ("hostpci0", "serial0", "usb0", "parallel0")


@pytest.fixture
def synced(synced):
    """The shared cluster with every storage approved."""
    storages_approve(synced)
    return synced


def _bare(guest) -> bool:
    """A plain running QEMU guest without any passthrough device."""
    return (
        plain_qemu(guest) and guest.running and not any(k in guest.config for k in NO_DEVICE_KEYS)
    )


def _stopped(synced, admin: RootAdmin):
    """A bare guest the admin stopped (kept in the facts by a sync)."""
    guest = synced.guest(_bare)
    admin.power(guest, "stop")
    assert not synced.sim.cluster.estate.guests[guest.vmid].running
    synced.sync()
    return guest


def _media_policy(vm, mode: str = "enforce"):
    return policy_on(
        "no_removable_media",
        [vm],
        mode=mode,
        check_disks=False,
        check_backups=False,
        check_backup_jobs=False,
    )


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("hostpci0", PCI, "only root can set 'hostpci0' config for non-mapped devices"),
        ("serial0", "/dev/ttyS0", "only root can set 'serial0' config for real devices"),
    ],
)
def test_host_device_on_stopped_guest_is_not_possible_for_the_token_until_root_removes_it(
    synced, recorder, key, value, words
):
    admin = RootAdmin(synced.sim)
    guest = _stopped(synced, admin)
    estate_guest = synced.sim.cluster.estate.guests[guest.vmid]
    admin.config(guest, **{key: value})
    assert estate_guest.config[key] == value  # a stopped guest takes it at once
    vm = synced.vm(guest.vmid)
    _media_policy(vm)

    [attempt] = cycle(synced)

    assert (attempt.action, attempt.params["key"]) == ("remove_device", key)
    assert attempt.state == "not_possible"
    assert words in attempt.error  # Proxmox's own words
    violation = open_violation(vm, key)
    assert violation.remediation_state == "not_possible"
    assert violation.evidence["line"] == f"{key}: {value}"
    assert estate_guest.config[key] == value
    writes = len(recorder.writes)
    assert cycle(synced) == []  # held: not tried again at every sync
    assert len(recorder.writes) == writes

    admin.config(guest, delete=key)  # root@pam acts on the violation
    synced.sync()
    assert not Violation.objects.filter(vm=vm, rule_key=key, resolved_at__isnull=True).exists()
    assert Violation.objects.get(vm=vm, rule_key=key).resolved_at is not None


def _running_with_pending_pci_removal(synced):
    """A running guest whose PCI device root@pam removed while it ran: still in effect,
    its removal pending until the next cold start."""
    admin = RootAdmin(synced.sim)
    guest = _stopped(synced, admin)
    admin.config(guest, hostpci0=PCI)
    admin.power(guest, "start")
    admin.config(guest, delete="hostpci0")
    estate_guest = synced.sim.cluster.estate.guests[guest.vmid]
    assert estate_guest.running
    assert estate_guest.config["hostpci0"] == PCI
    assert synced.gateway.guest_pending(node=guest.node, kind="qemu", vmid=guest.vmid) == {
        "hostpci0": None
    }
    return admin, guest


def test_pending_removal_is_shown_not_rewritten_and_resolves_after_a_cold_start(synced, recorder):
    admin, guest = _running_with_pending_pci_removal(synced)
    synced.sync()
    vm = synced.vm(guest.vmid)
    policy = _media_policy(vm)
    preview = policy_dry_run(document=document_of(policy), policy=policy)
    assert [f.rule_key for f in preview.findings] == ["hostpci0"]
    assert preview.remediations == []  # the dry run says nothing would be written
    writes = len(recorder.writes)

    assert cycle(synced) == []  # nothing to write: Proxmox already has the removal

    violation = open_violation(vm, "hostpci0")
    assert violation.remediation_state == "removal_pending"
    assert violation.get_remediation_state_display() == (
        "Removal pending until the guest's next cold start"
    )
    assert violation.evidence["removal_pending"] is True
    assert "removal pending until the guest's next cold start" in violation.summary
    assert not Remediation.objects.filter(vm=vm).exists()
    assert cycle(synced) == []  # the second reconcile: still no write, no retry loop
    assert len(recorder.writes) == writes
    assert open_violation(vm, "hostpci0").remediation_state == "removal_pending"

    admin.power(guest, "stop")
    admin.power(guest, "start")  # the cold start applies the pending removal
    assert "hostpci0" not in synced.sim.cluster.estate.guests[guest.vmid].config
    synced.sync()
    assert Violation.objects.get(vm=vm, rule_key="hostpci0").resolved_at is not None


def test_remove_device_finding_the_removal_pending_writes_nothing(synced, recorder):
    _, guest = _running_with_pending_pci_removal(synced)
    vm = synced.vm(guest.vmid)
    remediation = remediation_make(
        synced, vm, "remove_device", rule_key="hostpci0", key="hostpci0", line=PCI, digest=""
    )
    writes = len(recorder.writes)

    run_to_end(synced, remediation)

    remediation.refresh_from_db()
    assert remediation.state == "done"
    assert remediation.params["removal_pending"] is True
    assert "pending until the guest's next cold start" in remediation.log
    assert len(recorder.writes) == writes
    remediation.violation.refresh_from_db()
    assert remediation.violation.remediation_state == "removal_pending"


def test_physical_cdrom_is_emptied_in_enforce_and_only_reported_in_audit(synced, recorder):
    first = synced.guest(_bare)
    second = synced.guest(lambda g: _bare(g) and g.vmid != first.vmid)
    for guest in (first, second):
        response = synced.sim.api(
            "PUT",
            f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
            data={"ide2": "cdrom,media=cdrom"},
        )
        assert response.status_code == 200, response.text
    enforced, audited = synced.vm(first.vmid), synced.vm(second.vmid)
    _media_policy(enforced)
    _media_policy(audited, mode="audit")

    [detach] = cycle(synced)

    assert (detach.vm_id, detach.action, detach.state) == (enforced.pk, "detach_media", "done")
    estate = synced.sim.cluster.estate
    assert estate.guests[first.vmid].config["ide2"] == "none,media=cdrom"
    assert estate.guests[second.vmid].config["ide2"] == "cdrom,media=cdrom"
    reported = open_violation(audited, "ide2")
    assert "physical CD-ROM" in reported.summary
    assert reported.remediation_state == "none"
    synced.sync()
    assert Violation.objects.get(vm=enforced, rule_key="ide2").resolved_at is not None
    writes = len(recorder.writes)
    assert cycle(synced) == []
    assert len(recorder.writes) == writes


def test_disk_on_unapproved_storage_is_reported_never_moved(synced, recorder):
    guest = synced.guest(_bare)
    vm = synced.vm(guest.vmid)
    disk = vm.disks.filter(is_cdrom=False).exclude(storage_name="").first()
    assert disk is not None
    Storage.objects.filter(cluster=synced.cluster, name=disk.storage_name).update(
        storage_class=StorageClass.EXTERNAL
    )
    every = list(Storage.objects.filter(cluster=synced.cluster).values_list("name", flat=True))
    policy_on(
        "no_removable_media",
        [vm],
        check_backups=False,
        check_backup_jobs=False,
        approved_iso_storages=every,  # only the disk is in question here
    )
    before = dict(synced.sim.cluster.estate.guests[guest.vmid].config)
    writes = len(recorder.writes)

    assert cycle(synced) == []  # moving a disk goes through a request, not the reconciler

    violation = open_violation(vm, f"disk:{disk.key}")
    assert violation.remediation_state == "not_possible"
    assert violation.evidence["storage"] == disk.storage_name
    assert violation.evidence["storage_class"] == "external"
    assert len(recorder.writes) == writes
    assert synced.sim.cluster.estate.guests[guest.vmid].config == before
