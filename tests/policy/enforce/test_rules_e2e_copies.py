"""Copy limits and data lifetime end to end against pvesim, with the simulated clock:
backups an admin made beyond the limit or past their age are deleted, clones and a
template made from a sensitive guest are reported, an old snapshot and a RAM snapshot
are deleted; audit mode reports the same without a single write."""

from __future__ import annotations

import pytest

from policy.models import Remediation, Violation
from tests.policy.enforce.e2e import Clock, cycle, open_violation, policy_on, vzdump
from tests.policy.enforce.helpers import plain_qemu

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clock(synced, monkeypatch):
    return Clock(synced, monkeypatch)


def _volids(synced, guest, storage="pbs"):
    return {v.volid for v in synced.gateway.storage_content(node=guest.node, storage=storage)}


def test_backups_over_the_limit_deleted_clones_and_templates_reported(synced, clock, recorder):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    policy_on("copy_limits", [vm], max_backups=1, max_clones=0, no_templates=True)
    oldest = vzdump(synced, guest, "pbs")
    clock.advance(days=1)
    newest = vzdump(synced, guest, "pbs")
    for newid in (900, 901):
        response = synced.sim.api(
            "POST",
            f"/nodes/{guest.node}/qemu/{guest.vmid}/clone",
            data={"newid": newid, "full": 1, "name": f"copy-{newid}"},
        )
        assert response.status_code == 200, response.text
        synced.sim.advance(3600)
    synced.sim.api("POST", f"/nodes/{guest.node}/qemu/901/template")
    synced.sim.advance(600)

    [deleted] = cycle(synced)

    assert (deleted.action, deleted.params["volid"], deleted.state) == (
        "backup_delete",
        oldest,
        "done",
    ), deleted.log
    assert oldest not in _volids(synced, guest)
    assert newest in _volids(synced, guest)
    clones = open_violation(vm, "clones")
    assert clones.evidence["clones"] >= 1
    template = open_violation(vm, "template")
    assert template.evidence["templates"] == 1
    assert not Remediation.objects.filter(violation__in=[clones, template]).exists()
    synced.sync()
    assert open_violation(vm, "clones") == clones  # still reported, nothing to run
    assert Remediation.objects.count() == 1


def test_old_and_ram_snapshots_and_old_backups_deleted(synced, clock, recorder):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running and not g.snapshots)
    vm = synced.vm(guest.vmid)
    policy_on(
        "data_lifetime",
        [vm],
        max_snapshot_age_days=7,
        no_vmstate_snapshots=True,
        max_backup_age_days=30,
    )
    synced.sim.control("POST", "guest/snapshot", vmid=guest.vmid, snapname="before-upgrade")
    backup = vzdump(synced, guest, "pbs")
    clock.advance(days=3)
    synced.sim.control("POST", "guest/snapshot", vmid=guest.vmid, snapname="with-ram", vmstate=1)
    [ram] = cycle(synced)  # the RAM snapshot goes at once
    assert (ram.action, ram.params["snapshot"], ram.state) == (
        "snapshot_delete",
        "with-ram",
        "done",
    ), ram.log
    assert _snapshots(synced, guest) == {"before-upgrade"}

    clock.advance(days=5)  # before-upgrade is now 8 days old
    [old] = cycle(synced)
    assert (old.action, old.params["snapshot"], old.state) == (
        "snapshot_delete",
        "before-upgrade",
        "done",
    )
    assert _snapshots(synced, guest) == set()
    assert backup in _volids(synced, guest)

    clock.advance(days=23)  # the backup is now 31 days old
    [expired] = cycle(synced)
    assert (expired.action, expired.params["volid"], expired.state) == (
        "backup_delete",
        backup,
        "done",
    )
    assert backup not in _volids(synced, guest)
    synced.sync()
    assert not Violation.objects.filter(vm=vm, resolved_at__isnull=True).exists()


def _snapshots(synced, guest) -> set[str]:
    where = {"node": guest.node, "kind": guest.kind, "vmid": guest.vmid}
    return {s.name for s in synced.gateway.snapshots(**where)} - {"current"}
