"""Ledger fidelity of the pure diff: exports, clones over two cycles, rollback targets, identity."""

from __future__ import annotations

from inventory.sync.diff import diff
from inventory.sync.state import GuestRef, LocalCopy, StorageRef
from tests.inventory.sync.builders import (
    NOW,
    config,
    guest,
    local,
    local_guest,
    remote,
    snapshot,
    task,
    volume,
)

ARCHIVE = "pbs:backup/vzdump-qemu-100-2026_03_01-11_00_00.vma.zst"


def test_an_archive_recorded_as_an_export_is_not_also_a_backup() -> None:
    export = LocalCopy(7, "export", 100, ARCHIVE, "pbs", "", 1)
    before = local([local_guest(1, 100)], copies=(export,))
    state = remote(guests=(guest(100),), volumes={StorageRef("pbs"): (volume(ARCHIVE),)})
    changeset = diff(before, state, now=NOW)
    assert not changeset.copies_open
    assert not changeset.copies_close  # the export row stays open


def test_a_backup_row_opened_before_the_export_was_recorded_is_closed_with_an_event() -> None:
    backup = LocalCopy(6, "backup", 100, ARCHIVE, "pbs", "", 1)
    export = LocalCopy(7, "export", 100, ARCHIVE, "pbs", "", 1)
    before = local([local_guest(1, 100)], copies=(backup, export))
    state = remote(guests=(guest(100),), volumes={StorageRef("pbs"): (volume(ARCHIVE),)})
    changeset = diff(before, state, now=NOW)
    assert [c.id for c in changeset.copies_close] == [6]
    assert not changeset.copies_open
    (event,) = changeset.events
    assert (event.action, event.guest, event.after) == (
        "inventory.backup_is_export",
        GuestRef(100, 1),
        {"kind": "export", "name": ARCHIVE},
    )


def test_an_export_on_another_node_does_not_hide_a_backup_here() -> None:
    export = LocalCopy(7, "export", 100, "local:backup/x-100.vma", "local", "pve2", 1)
    before = local([local_guest(1, 100)], copies=(export,))
    here = volume("local:backup/x-100.vma", vmid=100)
    state = remote(guests=(guest(100),), volumes={StorageRef("local", "pve1"): (here,)})
    opened = diff(before, state, now=NOW).copies_open
    assert [(c.kind, c.node) for c in opened] == [("backup", "pve1")]


def test_a_clone_first_listed_while_its_task_runs_is_paired_when_the_lock_goes() -> None:
    before, running = local([local_guest(1, 100)]), task("qmclone", 100, end=None)
    first = diff(
        before,
        remote(guests=(guest(100), guest(105, lock="clone")), tasks=(running,)),
        now=NOW,
    )
    assert not first.lineage_add
    assert [(r.cause, r.task_upid) for r in first.residencies_open] == [("clone", "")]

    done = task("qmclone", 100)  # the same UPID, finished
    assert done.upid == running.upid
    known = local([local_guest(1, 100), local_guest(2, 105, lock="clone")], tasks=(running,))
    second = diff(known, remote(guests=(guest(100), guest(105)), tasks=(done,)), now=NOW)
    (lineage,) = second.lineage_add
    assert (lineage.parent, lineage.child, lineage.kind, lineage.task_upid) == (
        GuestRef(100, 1),
        GuestRef(105, 2),
        "clone",
        done.upid,
    )
    assert [(c.kind, c.source_vmid, c.name) for c in second.copies_open] == [("clone", 100, "105")]


def test_a_clone_still_running_does_not_spoil_the_pairing_of_a_finished_one() -> None:
    before = local([local_guest(1, 100), local_guest(2, 200)])
    tasks = (task("qmclone", 100, serial=1), task("qmclone", 200, serial=2, end=None))
    listed = (guest(100), guest(200), guest(105), guest(106, lock="clone"))
    changeset = diff(before, remote(guests=listed, tasks=tasks), now=NOW)
    assert [(x.parent.vmid, x.child.vmid) for x in changeset.lineage_add] == [(100, 105)]


def test_a_rollback_task_records_the_snapshot_the_config_returned_to() -> None:
    before = local([local_guest(1, 100)])
    rollback = task("qmrollback", 100)
    state = remote(
        guests=(guest(100),),
        tasks=(rollback,),
        configs={100: config(100, "d2", values={"parent": "before-upgrade"})},
        snapshots={100: (snapshot("before-upgrade"), snapshot("later", "before-upgrade"))},
    )
    (row,) = diff(before, state, now=NOW).rollbacks_add
    assert (row.task_upid, row.snapshot_name) == (rollback.upid, "before-upgrade")


def test_a_snapshot_taken_after_the_rollback_leaves_its_name_unknown() -> None:
    before = local([local_guest(1, 100)])
    tasks = (task("qmrollback", 100, serial=1), task("qmsnapshot", 100, serial=2))
    state = remote(
        guests=(guest(100),),
        tasks=tasks,
        configs={100: config(100, "d2", values={"parent": "newer"})},
    )
    (row,) = diff(before, state, now=NOW).rollbacks_add
    assert row.snapshot_name == ""


def test_a_changed_smbios_uuid_keeps_the_record_and_is_an_identity_event() -> None:
    before = local([local_guest(1, 100, smbios_uuid="aaaa")])
    changed = config(100, "d2", smbios_uuid="bbbb")
    changeset = diff(before, remote(guests=(guest(100),), configs={100: changed}), now=NOW)
    assert not changeset.guests_gone
    assert not changeset.guests_create
    (update,) = changeset.guests_update
    assert update.fields["smbios_uuid"] == "bbbb"
    (event,) = changeset.events
    assert (event.action, event.guest, event.before, event.after) == (
        "inventory.identity_changed",
        GuestRef(100, 1),
        {"smbios_uuid": "aaaa"},
        {"smbios_uuid": "bbbb"},
    )
