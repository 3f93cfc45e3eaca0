"""Dormancy and rollback awareness end to end against pvesim: a guest off for longer
than the limit that an admin starts is quarantined (firewall group read back from
Proxmox) until its owner confirms it patched, then released; a rollback an admin runs is
flagged and quarantined; a missing virtio-rng is added, a missing vmgenid reported."""

from __future__ import annotations

import pytest

from governance.ownership.models import Ownership
from policy.models import Quarantine, Remediation
from policy.services.patches import patch_confirm
from tests.factories import UserFactory
from tests.policy.enforce.e2e import Clock, cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quarantine_hosts")]

GROUP = "steward-quarantine"


@pytest.fixture
def clock(synced, monkeypatch):
    return Clock(synced, monkeypatch)


def _fenced(synced, guest) -> bool:
    where = {"node": guest.node, "kind": guest.kind, "vmid": guest.vmid}
    rules = synced.gateway.guest_firewall_rules(**where)
    enabled = synced.gateway.guest_firewall_options(**where).enabled
    return enabled and any(r.type == "group" and r.action == GROUP for r in rules)


def test_dormant_guest_started_is_quarantined_until_owner_confirms(synced, clock, recorder):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running)
    vm = synced.vm(guest.vmid)
    owner = UserFactory(username="olivia")
    Ownership.objects.create(vm=vm, owner=owner, since=vm.first_seen, source="manual")
    policy_on("dormancy_quarantine", [vm], days=30)
    clock.advance(days=31)
    assert cycle(synced) == []
    assert open_violation(vm, "dormant").evidence["running"] is False  # reported only

    response = synced.sim.api("POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/status/start")
    assert response.status_code == 200, response.text
    synced.sim.advance(60)
    [fence] = cycle(synced)

    assert (fence.action, fence.state) == ("quarantine_apply", "done"), fence.log
    quarantine = Quarantine.objects.get(vm=vm, lifted_at__isnull=True)
    assert (quarantine.cause, quarantine.applied_state) == ("dormancy", "verified")
    assert _fenced(synced, guest)
    assert cycle(synced) == []  # stays fenced while the patch is owed

    patch_confirm(actor=owner, vm=vm, note="apt upgrade done")
    [lift] = cycle(synced)
    assert (lift.action, lift.state) == ("quarantine_lift", "done"), lift.log
    quarantine.refresh_from_db()
    assert quarantine.lifted_at is not None
    assert not _fenced(synced, guest)
    assert not Quarantine.objects.filter(vm=vm, lifted_at__isnull=True).exists()


def test_rollback_is_flagged_and_quarantined(synced, clock, recorder):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    policy_on("rollback_awareness", [vm], quarantine=True, require_rng=False, require_vmgenid=False)
    synced.sim.control("POST", "guest/snapshot", vmid=guest.vmid, snapname="known-good")
    synced.sync()
    clock.advance(days=1)
    where = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    response = synced.sim.api("POST", f"{where}/snapshot/known-good/rollback")
    assert response.status_code == 200, response.text
    synced.sim.advance(600)

    [fence] = cycle(synced)

    violation = open_violation(vm, "rollback")
    # PVE's rollback task names the guest, not the snapshot.
    assert (violation.evidence["source"], violation.evidence["rollbacks"]) == ("task", 1)
    assert ":qmrollback:" in violation.evidence["task_upid"]
    assert (fence.action, fence.state) == ("quarantine_apply", "done"), fence.log
    assert Quarantine.objects.get(vm=vm, lifted_at__isnull=True).cause == "rollback"
    assert _fenced(synced, guest)


def test_missing_rng_added_and_missing_vmgenid_handled(synced, recorder):
    # Stopped: config changes apply at once instead of waiting for a reboot as pending.
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running and "vmgenid" in g.config)
    vm = synced.vm(guest.vmid)
    policy_on("rollback_awareness", [vm])
    # The admin drops the generation id by editing the guest's config file on the node
    # (only root@pam's own session may change vmgenid through the API, no token can).
    with synced.sim.cluster.lock:
        del synced.sim.cluster.estate.guests[guest.vmid].config["vmgenid"]

    [rng] = cycle(synced)  # "rng" sorts before "vmgenid": one remediation per guest
    assert (rng.action, rng.params["key"], rng.state) == ("set_config", "rng0", "done"), rng.log
    assert synced.sim.cluster.estate.guests[guest.vmid].config["rng0"] == "source=/dev/urandom"
    [genid] = cycle(synced)
    assert (genid.action, genid.params["key"], genid.state) == (
        "set_config",
        "vmgenid",
        "not_possible",
    )
    assert "only root can set 'vmgenid'" in genid.error  # Proxmox's words, reported
    assert open_violation(vm, "vmgenid").remediation_state == "not_possible"
    assert "vmgenid" not in synced.sim.cluster.estate.guests[guest.vmid].config
    synced.sync()
    assert not Remediation.objects.filter(state__in=("pending", "running")).exists()


def test_vmgenid_change_is_flagged_and_only_reported_without_quarantine(synced, recorder):
    guest = synced.guest(lambda g: plain_qemu(g) and "vmgenid" in g.config)
    vm = synced.vm(guest.vmid)
    policy_on(
        "rollback_awareness", [vm], quarantine=False, require_rng=False, require_vmgenid=False
    )
    # A new generation id without a rollback task: what a restore of the disks from
    # outside, or a hand edit of the config file on the node, leaves behind.
    with synced.sim.cluster.lock:
        synced.sim.cluster.estate.guests[guest.vmid].config["vmgenid"] = (
            "00000000-1111-2222-3333-444444444444"
        )

    assert cycle(synced) == []

    violation = open_violation(vm, "rollback")
    assert violation.evidence["source"] == "vmgenid_change"
    assert "re-patch and re-key" in violation.summary
    assert not Quarantine.objects.exists()
    assert recorder.writes == []
