"""Applying changesets: idempotency (no writes the second time) and the ledgers over time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.audit.models import AuditEvent
from inventory.models import (
    Cluster,
    Copy,
    GuestDisk,
    GuestNic,
    Lineage,
    ProxmoxTask,
    Residency,
    Rollback,
    VirtualMachine,
)
from inventory.sync.apply import changeset_apply
from inventory.sync.diff import diff
from inventory.sync.local import load_local, with_tasks
from inventory.sync.state import Absence, DiskFacts, RemoteState, StorageRef
from tests.inventory.sync.builders import (
    NOW,
    config,
    guest,
    node,
    remote,
    snapshot,
    task,
    volume,
)

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(
        name="alpha", api_url="https://127.0.0.1:8006", token_id="a@pve!t", token_secret="s"
    )


def sync(cluster: Cluster, state: RemoteState, *, minutes: int = 0) -> list[str]:
    """One load-local/diff/apply cycle; the SQL statements the apply issued."""
    local = load_local(cluster_id=cluster.pk)
    local = with_tasks(local, upids=[t.upid for t in state.tasks or ()])
    changeset = diff(local, state, now=NOW + timedelta(minutes=minutes))
    with CaptureQueriesContext(connection) as queries:
        changeset_apply(cluster_id=cluster.pk, changeset=changeset)
    return [q["sql"] for q in queries.captured_queries]


def estate(**parts) -> RemoteState:
    """Three guests, one with a snapshot and a backup, their configs read."""
    values = {
        "guests": (guest(100), guest(101, "pve2"), guest(102, "pve3", status="stopped")),
        "configs": {v: config(v, macs=(f"AA:00:00:00:00:{v - 99:02X}",)) for v in (100, 101, 102)},
        "snapshots": {100: (snapshot("s1"),), 101: (), 102: ()},
        "volumes": {StorageRef("pbs"): (volume("pbs:backup/vzdump-qemu-101-x.vma.zst"),)},
        "tasks": (task("vzdump", 101, "pve2"),),
    }
    values.update(parts)
    return remote(**values)


def test_first_apply_writes_the_estate_and_the_second_writes_nothing(cluster) -> None:
    sync(cluster, estate())
    assert VirtualMachine.objects.filter(cluster=cluster).count() == 3
    assert GuestNic.objects.count() == 3
    assert GuestDisk.objects.count() == 3
    assert Residency.objects.filter(ended_at__isnull=True).count() == 3
    assert set(Copy.objects.values_list("kind", "source_vmid")) == {
        ("snapshot", 100),
        ("backup", 101),
    }
    assert ProxmoxTask.objects.count() == 1
    assert AuditEvent.objects.filter(action="inventory.guests_discovered").count() == 1

    statements = sync(cluster, estate())
    assert [s for s in statements if s.lstrip().upper().startswith(WRITES)] == []
    assert statements == []


def test_migration_closes_one_residency_and_opens_another(cluster) -> None:
    sync(cluster, estate())
    later = NOW + timedelta(minutes=1)
    migrate = task("qmigrate", 100, "pve1", serial=7, start=later, end=later)
    moved = estate(guests=(guest(100, "pve2"), guest(101, "pve2"), guest(102, "pve3")))
    sync(cluster, replace_tasks(moved, migrate), minutes=5)
    vm = VirtualMachine.objects.get(vmid=100)
    assert vm.node.name == "pve2"
    rows = list(vm.residencies.order_by("started_at", "id").values_list("node__name", "cause"))
    assert rows == [("pve1", "discovered"), ("pve2", "migrate")]
    assert vm.residencies.filter(ended_at__isnull=True).get().task_upid == migrate.upid
    assert AuditEvent.objects.filter(action="inventory.guest_moved").count() == 1


def replace_tasks(state: RemoteState, *tasks) -> RemoteState:
    return replace(state, tasks=(*(state.tasks or ()), *tasks))


def test_ha_recovery_after_a_node_failure(cluster) -> None:
    sync(cluster, estate(guests=(guest(100, hastate="started"),), configs={}, snapshots={}))
    start = task("qmstart", 100, "pve2", serial=8)
    failed = remote(
        nodes=(node("pve1", "offline"), node("pve2"), node("pve3")),
        guests=(guest(100, "pve2", hastate="started"),),
        tasks=(start,),
    )
    sync(cluster, failed, minutes=5)
    residency = Residency.objects.get(vm__vmid=100, ended_at__isnull=True)
    assert (residency.node.name, residency.cause) == ("pve2", "ha_recovery")


def test_rollback_by_task_and_by_vmgenid(cluster) -> None:
    first = estate(configs={100: config(100, vmgenid="gen-1"), 101: config(101, vmgenid="x1")})
    sync(cluster, first)
    rollback = task("qmrollback", 100, serial=9)
    second = estate(
        configs={100: config(100, "d2", vmgenid="gen-2"), 101: config(101, "d2", vmgenid="x2")}
    )
    sync(cluster, replace_tasks(second, rollback), minutes=5)
    rows = set(Rollback.objects.values_list("vm__vmid", "source", "old_vmgenid", "new_vmgenid"))
    assert rows == {(100, "task", "gen-1", "gen-2"), (101, "vmgenid_change", "x1", "x2")}
    assert AuditEvent.objects.filter(action="inventory.rollback_detected").count() == 2
    # The same task seen again records nothing more.
    sync(cluster, replace_tasks(second, rollback), minutes=6)
    assert Rollback.objects.count() == 2


def test_snapshot_create_and_delete_are_kept_in_the_copy_ledger(cluster) -> None:
    sync(cluster, estate())
    sync(cluster, estate(snapshots={100: (snapshot("s1"), snapshot("s2", "s1", True))}))
    sync(cluster, estate(snapshots={100: (snapshot("s2", "s1", True),)}), minutes=5)
    rows = dict(Copy.objects.filter(kind="snapshot").values_list("name", "deleted_at"))
    assert rows == {"s1": NOW + timedelta(minutes=5), "s2": None}
    assert Copy.objects.get(name="s2").vmstate is True


def test_clone_and_linked_clone_lineage(cluster) -> None:
    sync(cluster, estate())
    clone = task("qmclone", 100, serial=10)
    linked = DiskFacts("scsi0", "local-lvm", "local-lvm:base-102-disk-0/vm-104-disk-0")
    grown = estate(
        guests=(*estate().guests, guest(103), guest(104)),
        configs={103: config(103), 104: config(104, disks=(linked,))},
    )
    sync(cluster, replace_tasks(grown, clone), minutes=5)
    rows = set(Lineage.objects.values_list("parent__vmid", "child__vmid", "kind", "task_upid"))
    assert rows == {(100, 103, "clone", clone.upid), (102, 104, "linked_clone", "")}
    assert set(Copy.objects.filter(kind="clone").values_list("source_vmid", "name")) == {
        (100, "103"),
        (102, "104"),
    }
    assert Residency.objects.get(vm__vmid=103).cause == "clone"


def test_destroy_keeps_the_row_and_closes_its_ledgers(cluster) -> None:
    sync(cluster, estate())
    destroy = task("qmdestroy", 100, serial=11)
    rest = estate(guests=estate().guests[1:], snapshots={}, absent={100: Absence.GONE})
    sync(cluster, replace_tasks(rest, destroy), minutes=5)
    vm = VirtualMachine.objects.get(vmid=100)
    assert vm.gone_since == NOW + timedelta(minutes=5)
    assert vm.residencies.get().ended_at == destroy.endtime
    assert Copy.objects.get(kind="snapshot").deleted_at == destroy.endtime
    assert AuditEvent.objects.filter(action="inventory.guest_gone").count() == 1


def test_vmid_reuse_keeps_the_old_row_and_starts_a_new_one(cluster) -> None:
    sync(cluster, estate())
    reused = estate(guests=(guest(100, kind="lxc"), *estate().guests[1:]), configs={})
    sync(cluster, reused, minutes=5)
    rows = list(
        VirtualMachine.objects.filter(vmid=100).order_by("id").values_list("kind", "gone_since")
    )
    assert rows == [("qemu", NOW + timedelta(minutes=5)), ("lxc", None)]
    new = VirtualMachine.objects.get(vmid=100, gone_since__isnull=True)
    assert new.residencies.get().ended_at is None
    assert AuditEvent.objects.filter(action="inventory.vmid_reused").count() == 1


def test_partial_read_loses_nothing(cluster) -> None:
    sync(cluster, estate())
    broken = RemoteState(read_at=NOW, errors=("the cluster could not be read",))
    assert sync(cluster, broken, minutes=5) == []
    empty = estate(guests=(), volumes={}, snapshots={}, configs={})
    sync(cluster, empty, minutes=6)
    assert VirtualMachine.objects.filter(gone_since__isnull=True).count() == 3
    assert Copy.objects.filter(deleted_at__isnull=True).count() == 2
