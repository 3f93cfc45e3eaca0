"""The pure diff over hand-built states: the guest list, moves, identity, rollbacks,
tasks and cluster objects (copies, lineage and residency are in test_diff_copies). No
database, no network."""

from __future__ import annotations

from dataclasses import replace

from inventory.sync.diff import EVENT_LIMIT, diff
from inventory.sync.state import (
    Absence,
    BackupJobFacts,
)
from tests.inventory.sync.builders import (
    NOW,
    config,
    guest,
    local,
    local_guest,
    node,
    remote,
    steady,
    task,
)


def test_unchanged_estate_gives_an_empty_changeset() -> None:
    before, after = steady(100, 101, 102)
    changeset = diff(before, after, now=NOW)
    assert not changeset
    assert changeset.events == []
    assert changeset.warnings == []


def test_first_sync_creates_every_guest_with_one_summary_event() -> None:
    changeset = diff(local(nodes={}), remote(guests=(guest(100), guest(101, "pve2"))), now=NOW)
    assert [g.vmid for g in changeset.guests_create] == [100, 101]
    assert {r.cause for r in changeset.residencies_open} == {"discovered"}
    assert [e.action for e in changeset.events] == ["inventory.guests_discovered"]
    assert changeset.nodes_create  # nodes were unknown too


def test_status_change_writes_only_changed_fields_and_last_running() -> None:
    before, _ = steady(100)
    changeset = diff(before, remote(guests=(guest(100, status="stopped"),)), now=NOW)
    (update,) = changeset.guests_update
    assert dict(update.fields) == {"status": "stopped", "last_running": NOW}
    assert not changeset.residencies_open


def test_missing_guest_is_gone_with_its_residency_closed() -> None:
    before, _ = steady(100, 101)
    destroy = task("qmdestroy", 101)
    gone = remote(guests=(guest(100),), tasks=(destroy,), absent={101: Absence.GONE})
    changeset = diff(before, gone, now=NOW)
    assert changeset.guests_gone == [2]
    assert [c.id for c in changeset.residencies_close] == [1002]
    assert changeset.residencies_close[0].ended_at == destroy.endtime
    assert [e.action for e in changeset.events] == ["inventory.guest_gone"]


def test_missing_guest_is_kept_unless_a_read_confirmed_it_gone() -> None:
    before, _ = steady(100, 101, 102, 103)
    verdicts = {101: Absence.DENIED, 102: Absence.UNKNOWN}
    changeset = diff(before, remote(guests=(guest(100),), absent=verdicts), now=NOW)
    assert not changeset.guests_gone
    assert not changeset.residencies_close
    # 101 and 102 are explained by the loader; 103 was never read: the diff says so.
    assert changeset.warnings == [
        "1 known guests are no longer listed and were not confirmed gone by a direct read;"
        " none was marked gone"
    ]


def test_mass_disappearance_gives_one_summary_event() -> None:
    vmids = range(100, 100 + EVENT_LIMIT + 2)
    before, _ = steady(*vmids)
    verdicts = dict.fromkeys(vmids, Absence.GONE)
    changeset = diff(before, remote(guests=(guest(100),), absent=verdicts), now=NOW)
    assert len(changeset.guests_gone) == EVENT_LIMIT + 1
    (event,) = changeset.events
    assert event.action == "inventory.guests_gone"
    assert event.guest is None
    assert dict(event.after) == {
        "cluster_id": 1,
        "count": EVENT_LIMIT + 1,
        "vmids": list(range(101, 100 + EVENT_LIMIT + 2)),
    }


def test_a_few_disappearances_keep_one_event_each() -> None:
    before, _ = steady(100, 101, 102)
    verdicts = {101: Absence.GONE, 102: Absence.GONE}
    changeset = diff(before, remote(guests=(guest(100),), absent=verdicts), now=NOW)
    assert [e.action for e in changeset.events] == ["inventory.guest_gone"] * 2


def test_unread_guest_list_marks_nothing_gone() -> None:
    before, _ = steady(100, 101)
    changeset = diff(before, remote(guests=None, nodes=None), now=NOW)
    assert not changeset.guests_gone
    assert not changeset.residencies_close


def test_empty_guest_list_from_a_token_without_rights_marks_nothing_gone() -> None:
    before, _ = steady(100, 101)
    changeset = diff(before, remote(guests=()), now=NOW)
    assert not changeset.guests_gone
    assert any("VM.Audit" in w for w in changeset.warnings)


def test_empty_lists_of_cluster_objects_delete_nothing() -> None:
    job = BackupJobFacts("daily", True, "02:00", "pbs", "snapshot", "all")
    before = local(backup_jobs={"daily": (7, job)})
    changeset = diff(before, remote(backup_jobs=()), now=NOW)
    assert not changeset.mirror_delete
    assert changeset.warnings
    changeset = diff(before, remote(backup_jobs=None), now=NOW)
    assert not changeset.mirror_delete
    assert not changeset.warnings


def test_cluster_objects_are_created_changed_and_deleted() -> None:
    daily = BackupJobFacts("daily", True, "02:00", "pbs", "snapshot", "all")
    weekly = BackupJobFacts("weekly", True, "sun", "pbs", "stop", "vmids", (100,))
    before = local(backup_jobs={"daily": (7, daily), "weekly": (8, weekly)})
    monthly = replace(daily, job_id="monthly")
    changeset = diff(before, remote(backup_jobs=(replace(daily, enabled=False), monthly)), now=NOW)
    assert [row["job_id"] for row in changeset.mirror_create["BackupJob"]] == ["monthly"]
    assert [(c.id, c.fields["enabled"]) for c in changeset.mirror_update["BackupJob"]] == [
        (7, False)
    ]
    assert changeset.mirror_delete["BackupJob"] == [8]


def test_node_move_with_a_migrate_task_is_a_migration() -> None:
    before, _ = steady(100)
    migrate = task("qmigrate", 100, "pve1")
    changeset = diff(before, remote(guests=(guest(100, "pve2"),), tasks=(migrate,)), now=NOW)
    (opened,) = changeset.residencies_open
    assert (opened.node, opened.cause, opened.task_upid) == ("pve2", "migrate", migrate.upid)
    assert opened.started_at == migrate.endtime
    assert [c.id for c in changeset.residencies_close] == [1001]
    assert changeset.guests_update[0].fields["node"] == "pve2"
    (event,) = changeset.events
    assert event.action == "inventory.guest_moved"
    assert event.after["cause"] == "migrate"


def test_node_move_after_a_node_failure_is_an_ha_recovery() -> None:
    before = local([local_guest(1, 100, hastate="started")])
    start = task("qmstart", 100, "pve2")
    nodes = (node("pve1", "offline"), node("pve2"), node("pve3"))
    changeset = diff(
        before,
        remote(nodes=nodes, guests=(guest(100, "pve2", hastate="started"),), tasks=(start,)),
        now=NOW,
    )
    (opened,) = changeset.residencies_open
    assert (opened.cause, opened.task_upid) == ("ha_recovery", start.upid)


def test_node_move_with_only_a_start_task_is_a_start() -> None:
    before, _ = steady(100)
    start = task("qmstart", 100, "pve3")
    changeset = diff(before, remote(guests=(guest(100, "pve3"),), tasks=(start,)), now=NOW)
    assert changeset.residencies_open[0].cause == "start"


def test_a_task_seen_before_does_not_explain_a_new_move() -> None:
    migrate = task("qmigrate", 100, "pve1")
    before = local([local_guest(1, 100)], tasks=(migrate,))
    changeset = diff(before, remote(guests=(guest(100, "pve2"),), tasks=(migrate,)), now=NOW)
    assert changeset.residencies_open[0].cause == "discovered"


def test_duplicate_vmid_during_migration_prefers_the_migration_target() -> None:
    before, _ = steady(100)
    running = task("qmigrate", 100, "pve1", end=None)
    listed = (guest(100, "pve1", status="running"), guest(100, "pve2", status="stopped"))
    changeset = diff(before, remote(guests=listed, tasks=(running,)), now=NOW)
    assert changeset.guests_update[0].fields["node"] == "pve2"
    assert changeset.residencies_open[0].cause == "migrate"
    assert any("several nodes" in w for w in changeset.warnings)
    assert not changeset.guests_gone
    assert not changeset.guests_create


def test_duplicate_vmid_without_a_task_keeps_the_running_entry() -> None:
    before, _ = steady(100)
    listed = (guest(100, "pve2", status="stopped"), guest(100, "pve1", status="running"))
    changeset = diff(before, remote(guests=listed), now=NOW)
    assert not changeset.guests_update
    assert not changeset.residencies_open
    assert changeset.warnings


def test_vmid_reuse_by_kind_gives_a_new_row() -> None:
    before, _ = steady(100)
    changeset = diff(before, remote(guests=(guest(100, kind="lxc"),)), now=NOW)
    assert changeset.guests_gone == [1]
    assert [g.vmid for g in changeset.guests_create] == [100]
    assert changeset.events[0].action == "inventory.vmid_reused"


def test_vmid_reuse_by_smbios_uuid_with_a_fresh_create() -> None:
    before = local([local_guest(1, 100, smbios_uuid="aaaa")])
    changed = config(100, "d2", smbios_uuid="bbbb")
    state = remote(guests=(guest(100),), configs={100: changed}, tasks=(task("qmcreate", 100),))
    changeset = diff(before, state, now=NOW)
    assert changeset.guests_gone == [1]
    assert changeset.guests_create


def test_vmid_reuse_after_a_destroy_task() -> None:
    before, _ = steady(100)
    tasks = (task("qmdestroy", 100, serial=1), task("qmcreate", 100, serial=2))
    changeset = diff(before, remote(guests=(guest(100),), tasks=tasks), now=NOW)
    assert changeset.guests_gone == [1]
    assert changeset.residencies_open[0].cause == "create"


def test_changed_config_rewrites_facts_and_same_config_only_ages() -> None:
    before, _ = steady(100)
    changed = config(100, "d2", macs=("AA:BB:CC:DD:EE:FF",))
    changeset = diff(before, remote(guests=(guest(100),), configs={100: changed}), now=NOW)
    (update,) = changeset.guests_update
    assert update.facts is changed
    assert update.fields["config_digest"] == "d2"
    later = NOW.replace(hour=13)
    reread = config(100, "d1", read_at=later)
    changeset = diff(before, remote(guests=(guest(100),), configs={100: reread}), now=NOW)
    (update,) = changeset.guests_update
    assert dict(update.fields) == {"config_read_at": later}
    assert update.facts is None


def test_rollback_task_is_recorded_once_with_the_vmgenid_change() -> None:
    before = local([local_guest(1, 100, vmgenid="gen-1")])
    rollback = task("qmrollback", 100)
    changed = config(100, "d2", vmgenid="gen-2")
    state = remote(guests=(guest(100),), tasks=(rollback,), configs={100: changed})
    (row,) = diff(before, state, now=NOW).rollbacks_add
    assert (row.source, row.task_upid, row.old_vmgenid, row.new_vmgenid) == (
        "task",
        rollback.upid,
        "gen-1",
        "gen-2",
    )
    seen = local([local_guest(1, 100, vmgenid="gen-1")], tasks=(rollback,))
    assert not diff(seen, remote(guests=(guest(100),), tasks=(rollback,)), now=NOW).rollbacks_add


def test_vmgenid_change_without_a_task_is_a_rollback() -> None:
    before = local([local_guest(1, 100, vmgenid="gen-1")])
    state = remote(guests=(guest(100),), configs={100: config(100, "d2", vmgenid="gen-2")})
    changeset = diff(before, state, now=NOW)
    (row,) = changeset.rollbacks_add
    assert row.source == "vmgenid_change"
    assert "inventory.rollback_detected" in [e.action for e in changeset.events]


def test_tasks_are_recorded_once_and_finished_later() -> None:
    running = task("vzdump", "", end=None)
    changeset = diff(local(), remote(tasks=(running,)), now=NOW)
    assert [t["upid"] for t in changeset.tasks_create] == [running.upid]
    finished = replace(running, endtime=NOW, status="OK")
    changeset = diff(local(tasks=(running,)), remote(tasks=(finished,)), now=NOW)
    assert not changeset.tasks_create
    assert dict(changeset.tasks_update[0].fields) == {"endtime": NOW, "status": "OK"}
    assert not diff(local(tasks=(finished,)), remote(tasks=(finished,)), now=NOW)


def test_missing_node_is_gone_only_when_the_node_list_is_trusted() -> None:
    before = local()
    changeset = diff(before, remote(nodes=(node("pve1"), node("pve2"))), now=NOW)
    assert [c.fields for c in changeset.nodes_update] == [{"gone_since": NOW}]
    assert not diff(before, remote(nodes=()), now=NOW).nodes_update


def test_a_backup_job_differing_only_in_unstored_fields_is_unchanged() -> None:
    job = BackupJobFacts("daily", True, "02:00", "pbs", "snapshot", "all")
    before = local(backup_jobs={"daily": (7, job)})
    edited = replace(job, comment="edited in the GUI", node="pve2")
    assert not diff(before, remote(backup_jobs=(edited,)), now=NOW).mirror_update
