"""Ledger fidelity against a simulated cluster over HTTPS: exports, a clone spanning two
cycles, the snapshot a rollback returned to, and an admin's new SMBIOS UUID.

Out-of-band changes go through the simulator's API as an admin would make them; the
expectations come from the simulator's estate, never from what Steward stored.
"""

from __future__ import annotations

import uuid

import pytest

from governance.audit.models import AuditEvent
from inventory.models import Copy, CopyKind, Lineage, Rollback, Storage, VirtualMachine
from tests.inventory.sync.test_flow import _movable, _root, live, synced

pytestmark = pytest.mark.django_db


def _backup_to(sim, guest, storage: str) -> str:
    """Back ``guest`` up to ``storage`` through the API; the new archive's volid."""
    path = f"/nodes/{guest.node}/storage/{storage}/content"
    before = {v["volid"] for v in _root(sim, "GET", path)}
    _root(sim, "POST", f"/nodes/{guest.node}/vzdump", vmid=guest.vmid, storage=storage)
    sim.advance(900)
    (archive,) = {v["volid"] for v in _root(sim, "GET", path)} - before
    return archive


def _record_export(cluster, guest, volid: str, storage: str) -> Copy:
    """The export copy approvals' export writes once its archive exists."""
    vm = live(cluster).get(vmid=guest.vmid)
    row = Storage.objects.get(cluster=cluster, name=storage)
    return Copy.objects.create(
        vm=vm,
        cluster=cluster,
        source_vmid=guest.vmid,
        kind=CopyKind.EXPORT,
        name=volid,
        storage=row,
        storage_name=storage,
        created_at=vm.first_seen,
    )


def test_an_export_archive_is_never_also_an_open_backup(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)

    # The export is recorded before the sync sees its archive: no backup row at all.
    first = _backup_to(sim, guest, "pbs")
    export = _record_export(cluster, guest, first, "pbs")
    synced(cluster)
    assert not Copy.objects.filter(cluster=cluster, kind="backup", name=first).exists()

    # A sync between the backup and the export's record opened a backup row: the next
    # sync closes it and says why; the export row stays open.
    second = _backup_to(sim, guest, "pbs")
    synced(cluster)
    backup = Copy.objects.get(cluster=cluster, kind="backup", name=second)
    assert backup.deleted_at is None
    late = _record_export(cluster, guest, second, "pbs")
    synced(cluster)
    backup.refresh_from_db()
    assert backup.deleted_at is not None
    assert Copy.objects.filter(pk__in=(export.pk, late.pk), deleted_at__isnull=True).count() == 2
    event = AuditEvent.objects.get(action="inventory.backup_is_export")
    assert event.after == {"kind": "export", "name": second}
    # Both archives are still in the cluster and each is open once, as an export.
    open_rows = Copy.objects.filter(cluster=cluster, name__in=(first, second), deleted_at=None)
    assert sorted(open_rows.values_list("kind", flat=True)) == ["export", "export"]


def test_a_full_clone_spanning_two_cycles_is_attributed_to_its_source(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    newid = max(sim.cluster.estate.guests) + 1
    path = f"/nodes/{guest.node}/qemu/{guest.vmid}/clone"
    upid = _root(sim, "POST", path, newid=newid, name="slow-copy", full=1)

    synced(cluster)  # the clock is frozen: the clone task still runs
    clone = live(cluster).get(vmid=newid)
    assert clone.lock == "clone"
    assert not Lineage.objects.filter(child=clone).exists()

    sim.advance(3600)
    assert not sim.cluster.estate.guests[newid].lock
    synced(cluster)
    source = live(cluster).get(vmid=guest.vmid)
    lineage = Lineage.objects.get(child=clone)
    assert (lineage.parent_id, lineage.kind, lineage.task_upid) == (source.pk, "clone", upid)
    assert Copy.objects.get(cluster=cluster, kind="clone", name=str(newid)).vm_id == source.pk
    assert clone.residencies.get().cause == "clone"
    assert live(cluster).get(vmid=newid).pk == clone.pk


def test_a_rollback_task_records_the_snapshot_it_returned_to(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    base = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    for name in ("before-upgrade", "after-upgrade"):
        _root(sim, "POST", f"{base}/snapshot", snapname=name)
        sim.advance(120)
    upid = _root(sim, "POST", f"{base}/snapshot/before-upgrade/rollback")
    sim.advance(120)
    synced(cluster)

    vm = live(cluster).get(vmid=guest.vmid)
    rollback = Rollback.objects.get(vm=vm, source="task")
    assert (rollback.task_upid, rollback.snapshot_name) == (upid, "before-upgrade")


def test_an_admin_setting_a_new_smbios_uuid_keeps_the_guest_record(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    vm = live(cluster).get(vmid=guest.vmid)
    old = vm.smbios_uuid
    assert old
    new = str(uuid.uuid4())
    base = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    _root(sim, "POST", f"{base}/config", smbios1=f"uuid={new}")
    sim.advance(60)
    synced(cluster)
    # The guest runs: the new UUID waits for its next cold start.
    assert live(cluster).get(vmid=guest.vmid).smbios_uuid == old
    _root(sim, "POST", f"{base}/status/stop")
    sim.advance(60)
    _root(sim, "POST", f"{base}/status/start")
    sim.advance(60)
    synced(cluster)

    current = live(cluster).get(vmid=guest.vmid)
    assert current.pk == vm.pk
    assert current.smbios_uuid == new
    assert not VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=False).exists()
    event = AuditEvent.objects.get(action="inventory.identity_changed")
    assert (event.before, event.after) == ({"smbios_uuid": old}, {"smbios_uuid": new})
    assert not AuditEvent.objects.filter(action="inventory.vmid_reused").exists()


def test_pending_changes_are_kept_apart_from_the_config_in_effect(
    sim, cluster_for, admin_client
) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    applied = dict(sim.cluster.estate.guests[guest.vmid].config)
    assert "ostype" in applied
    agent = "0" if applied.get("agent", "0").startswith("1") else "1"
    base = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    # Neither key is hot-pluggable: on a running guest both wait for a cold start.
    _root(sim, "POST", f"{base}/config", agent=agent, delete="ostype")
    sim.advance(60)
    synced(cluster)

    vm = live(cluster).get(vmid=guest.vmid)
    assert vm.config_pending == {"agent": agent, "ostype": None}
    assert vm.config.get("agent") == applied.get("agent")
    assert vm.config["ostype"] == applied["ostype"] == vm.ostype
    assert vm.agent_enabled == applied.get("agent", "0").startswith("1")
    page = admin_client.get(f"/inventory/vms/{vm.pk}/").content.decode()
    assert 'id="config-pending"' in page
    assert "removed" in page

    _root(sim, "POST", f"{base}/status/stop")
    sim.advance(60)
    _root(sim, "POST", f"{base}/status/start")
    sim.advance(60)
    synced(cluster)
    vm.refresh_from_db()
    assert vm.config_pending == {}
    assert vm.config["agent"] == agent
    assert "ostype" not in vm.config
    assert vm.agent_enabled == (agent == "1")
    page = admin_client.get(f"/inventory/vms/{vm.pk}/").content.decode()
    assert 'id="config-pending"' not in page
