"""The pure diff over hand-built states, for what Steward keeps beyond the guest list:
copies (snapshots, backups, replicas, clones), clone lineage and storage residency. No
database, no network."""

from __future__ import annotations

from dataclasses import replace

from inventory.sync.diff import diff
from inventory.sync.state import (
    Absence,
    DiskFacts,
    GuestRef,
    LocalCopy,
    StorageRef,
)
from tests.inventory.sync.builders import (
    NOW,
    config,
    guest,
    local,
    local_guest,
    remote,
    snapshot,
    steady,
    task,
    volume,
)


def test_snapshots_open_and_close_copies_only_when_read() -> None:
    old = LocalCopy(5, "snapshot", 100, "before-upgrade", "local-lvm", "", 1)
    before = local([local_guest(1, 100)], copies=(old,))
    state = remote(guests=(guest(100),), snapshots={100: (snapshot("new", vmstate=True),)})
    changeset = diff(before, state, now=NOW)
    (opened,) = changeset.copies_open
    assert (opened.name, opened.vmstate, opened.storage, opened.guest) == (
        "new",
        True,
        "local-lvm",
        GuestRef(100, 1),
    )
    assert [c.id for c in changeset.copies_close] == [5]
    unread = diff(before, remote(guests=(guest(100),)), now=NOW)
    assert not unread.copies_close
    assert not unread.copies_open


def test_backups_open_and_close_only_on_listed_storage() -> None:
    old = LocalCopy(9, "backup", 100, "pbs:backup/vm/100/old", "pbs", "", 1)
    before = local([local_guest(1, 100)], copies=(old,))
    new = volume("pbs:backup/vzdump-qemu-100-2026_03_01-11_00_00.vma.zst")
    listed = remote(guests=(guest(100),), volumes={StorageRef("pbs"): (new,)})
    changeset = diff(before, listed, now=NOW)
    assert [(c.kind, c.source_vmid, c.name) for c in changeset.copies_open] == [
        ("backup", 100, new.volid)
    ]
    assert [c.id for c in changeset.copies_close] == [9]
    failed = remote(guests=(guest(100),), volumes={})
    assert not diff(before, failed, now=NOW).copies_close


def test_disk_image_on_another_node_is_a_replica_and_the_used_one_is_not() -> None:
    before, _ = steady(100)
    image = volume("local-lvm:vm-100-disk-0", content="images", vmid=100)
    state = remote(
        guests=(guest(100),),
        volumes={
            StorageRef("local-lvm", "pve1"): (image,),
            StorageRef("local-lvm", "pve2"): (image,),
        },
    )
    opened = diff(before, state, now=NOW).copies_open
    assert [(c.kind, c.node) for c in opened] == [("replica", "pve2")]


def test_linked_clone_is_found_from_its_disk_volume() -> None:
    before = local([local_guest(1, 9000, template=True)])
    linked = DiskFacts("scsi0", "local-lvm", "local-lvm:base-9000-disk-0/vm-101-disk-0")
    state = remote(
        guests=(guest(9000, template=True), guest(101)),
        configs={101: config(101, disks=(linked,))},
    )
    changeset = diff(before, state, now=NOW)
    (lineage,) = changeset.lineage_add
    assert (lineage.parent, lineage.child, lineage.kind) == (
        GuestRef(9000, 1),
        GuestRef(101),
        "linked_clone",
    )
    assert [(c.kind, c.source_vmid, c.name) for c in changeset.copies_open] == [
        ("clone", 9000, "101")
    ]


def test_full_clone_is_attributed_to_the_clone_task() -> None:
    before, _ = steady(100)
    clone = task("qmclone", 100)
    state = remote(guests=(guest(100), guest(105, "pve2")), tasks=(clone,))
    changeset = diff(before, state, now=NOW)
    (lineage,) = changeset.lineage_add
    assert (lineage.parent.vmid, lineage.child.vmid, lineage.kind, lineage.task_upid) == (
        100,
        105,
        "clone",
        clone.upid,
    )
    assert changeset.residencies_open[0].cause == "clone"


def test_ambiguous_clones_record_no_lineage() -> None:
    before, _ = steady(100)
    tasks = (task("qmclone", 100, serial=1), task("qmclone", 100, serial=2))
    state = remote(guests=(guest(100), guest(105)), tasks=tasks)
    assert not diff(before, state, now=NOW).lineage_add


def test_gone_guest_closes_its_snapshots_and_the_clone_copy_it_was() -> None:
    snap = LocalCopy(5, "snapshot", 101, "s1", "local-lvm", "", 2)
    clone = LocalCopy(6, "clone", 100, "101", "", "", 1)
    before = local([local_guest(1, 100), local_guest(2, 101)], copies=(snap, clone))
    changeset = diff(before, remote(guests=(guest(100),), absent={101: Absence.GONE}), now=NOW)
    assert sorted(c.id for c in changeset.copies_close) == [5, 6]


def test_disk_moved_to_another_storage_reopens_the_residency() -> None:
    before, _ = steady(100)
    moved = DiskFacts("scsi0", "ceph", "ceph:vm-100-disk-0", 2**30)
    move = task("qmmove", 100)
    state = remote(guests=(guest(100),), configs={100: config(100, "d2", disks=(moved,))})
    changeset = diff(before, replace(state, tasks=(move,)), now=NOW)
    assert [c.id for c in changeset.residencies_close] == [1001]
    assert changeset.residencies_close[0].ended_at == move.endtime
    (stay,) = changeset.residencies_open
    assert (stay.node, stay.cause, stay.storage_names, stay.task_upid) == (
        "pve1",
        "storage_move",
        ("ceph",),
        move.upid,
    )
    assert [e.action for e in changeset.events] == ["inventory.guest_storage_moved"]


def test_config_change_on_the_same_storages_keeps_the_residency() -> None:
    before, _ = steady(100)
    state = remote(guests=(guest(100),), configs={100: config(100, "d2")})
    changeset = diff(before, state, now=NOW)
    assert changeset.guests_update
    assert not changeset.residencies_open
    assert not changeset.residencies_close


def test_full_clone_of_a_template_links_the_child_to_its_template() -> None:
    before = local([local_guest(1, 9000, template=True)])
    clone = task("qmclone", 9000)
    state = remote(guests=(guest(9000, template=True), guest(105)), tasks=(clone,))
    (lineage,) = diff(before, state, now=NOW).lineage_add
    assert (lineage.parent.vmid, lineage.child.vmid, lineage.kind) == (9000, 105, "template_of")
