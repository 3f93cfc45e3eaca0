"""Pure evaluator tests, one section per rule kind: findings, keys, evidence, remedies."""

from __future__ import annotations

from datetime import date, timedelta

from policy.evaluation import evaluate_fleet, evaluate_policy, in_scope
from policy.facts import (
    AclFact,
    BackupJobFact,
    CopyFact,
    DeviceFact,
    DiskFact,
    HaGroupFact,
    HaResourceFact,
    HaRuleFact,
    IdentityClash,
    RollbackFact,
)
from tests.policy.builders import NOW, cluster, fleet, spec, vm


def keys(findings) -> set[str]:
    return {f.rule_key for f in findings}


def first_action(findings, key):
    (finding,) = [f for f in findings if f.rule_key == key]
    return finding.remedies[0] if finding.remedies else None


# --- host pinning -----------------------------------------------------------------------


def test_pinning_migrates_a_running_guest_back_online_and_leaves_allowed_ones_alone() -> None:
    facts = fleet(vm(1, node="node3"), vm(2, node="node1"))
    found = evaluate_policy(spec("host_pinning", {"allowed_nodes": ["node1", "node2"]}), facts, NOW)
    assert [(f.vm_id, f.rule_key) for f in found] == [(1, "node")]
    move = found[0].remedies[0]
    assert (move.kind, move.node, dict(move.params)) == (
        "migrate",
        "node3",
        {"target": "node1", "online": True},
    )


def test_pinning_picks_an_online_target_and_migrates_a_stopped_guest_offline() -> None:
    facts = fleet(
        vm(1, node="node3", status="stopped"),
        clusters=(cluster(nodes={"node1": "offline", "node2": "online", "node3": "online"}),),
    )
    found = evaluate_policy(spec("host_pinning", {"allowed_nodes": ["node1", "node2"]}), facts, NOW)
    assert dict(found[0].remedies[0].params) == {"target": "node2", "online": False}


def test_pinning_with_no_allowed_node_online_only_reports() -> None:
    facts = fleet(vm(1, node="node3"), clusters=(cluster(nodes={"node1": "offline"}),))
    found = evaluate_policy(spec("host_pinning", {"allowed_nodes": ["node1"]}), facts, NOW)
    assert found[0].remedies == ()


def test_pinning_asks_ha_to_pin_an_ha_guest_unless_a_strict_rule_or_restricted_group_does() -> None:
    params = {"allowed_nodes": ["node1", "node2"]}
    ha = {101: HaResourceFact("vm:101", 101, "started", "")}
    found = evaluate_policy(
        spec("host_pinning", params), fleet(vm(1), clusters=(cluster(ha_resources=ha),)), NOW
    )
    assert keys(found) == {"ha"}
    assert dict(found[0].remedies[0].params) == {"sid": "vm:101", "nodes": ["node1", "node2"]}

    rule = HaRuleFact(
        "pin", "node-affinity", frozenset({"node1"}), frozenset({"vm:101"}), True, False
    )
    pinned = cluster(ha_resources=ha, ha_rules=(rule,))
    assert (
        evaluate_policy(spec("host_pinning", params), fleet(vm(1), clusters=(pinned,)), NOW) == []
    )
    loose = cluster(ha_resources=ha, ha_rules=(rule._replace(strict=False),))
    assert keys(
        evaluate_policy(spec("host_pinning", params), fleet(vm(1), clusters=(loose,)), NOW)
    ) == {"ha"}

    grouped = {101: HaResourceFact("vm:101", 101, "started", "g1")}
    group = HaGroupFact("g1", frozenset({"node2"}), True)
    pve8 = cluster(pve_version="8.4.1", ha_resources=grouped, ha_groups={"g1": group})
    assert evaluate_policy(spec("host_pinning", params), fleet(vm(1), clusters=(pve8,)), NOW) == []


# --- no removable media -----------------------------------------------------------------


def test_removable_media_findings_and_their_remedies() -> None:
    guest = vm(
        1,
        devices=(
            DeviceFact("usb0", "usb", "host=1234:5678"),
            DeviceFact("usb1", "usb", "spice"),  # redirection from the viewer, not host hardware
            DeviceFact("hostpci0", "pci", "0000:01:00.0"),
            DeviceFact("serial0", "serial", "/dev/ttyS0"),
            DeviceFact("serial1", "serial", "socket"),
            DeviceFact("ide2", "cdrom", "cdrom"),
            DeviceFact("ide3", "cdrom", "usb-disk:iso/x.iso"),
            DeviceFact("sata5", "cdrom", "iso:iso/ok.iso"),
            DeviceFact("sata4", "cdrom", "none"),
        ),
        disks=(
            DiskFact("scsi0", "local-lvm", "local-lvm:vm-101-disk-0"),
            DiskFact("scsi1", "usb-disk", "usb-disk:vm-101-disk-1"),
        ),
        copies=(
            CopyFact(
                "backup",
                "usb-disk:backup/vzdump-qemu-101.vma.zst",
                "usb-disk",
                "removable",
                "node1",
                NOW,
                False,
                1,
            ),
            CopyFact("backup", "pbs:backup/vm/101/x", "pbs", "approved", "", NOW, False, 1),
        ),
    )
    jobs = (
        BackupJobFact("nightly-usb", True, "usb-disk", "all", frozenset(), frozenset(), ""),
        BackupJobFact("excluded", True, "usb-disk", "all", frozenset(), frozenset({101}), ""),
        BackupJobFact("approved", True, "local-lvm", "all", frozenset(), frozenset(), ""),
    )
    found = evaluate_policy(
        spec("no_removable_media"), fleet(guest, clusters=(cluster(backup_jobs=jobs),)), NOW
    )
    assert keys(found) == {
        "usb0",
        "hostpci0",
        "serial0",
        "ide2",
        "ide3",
        "disk:scsi1",
        "backup:usb-disk:backup/vzdump-qemu-101.vma.zst",
        "job:nightly-usb",
    }
    usb = first_action(found, "usb0")
    assert (usb.kind, dict(usb.params)) == (
        "remove_device",
        {"key": "usb0", "line": "usb0: host=1234:5678", "digest": "digest-1"},
    )
    assert first_action(found, "ide2").kind == "detach_media"
    assert first_action(found, "job:nightly-usb").params == {"job_id": "nightly-usb"}
    assert (
        first_action(found, "backup:usb-disk:backup/vzdump-qemu-101.vma.zst").kind
        == "deletion_request"
    )
    assert first_action(found, "disk:scsi1") is None  # moving a disk goes through a request


def test_approved_iso_storages_parameter_overrides_storage_classes() -> None:
    guest = vm(1, devices=(DeviceFact("ide2", "cdrom", "iso:iso/ok.iso"),))
    found = evaluate_policy(
        spec("no_removable_media", {"approved_iso_storages": ["other"]}), fleet(guest), NOW
    )
    assert keys(found) == {"ide2"}


# --- copy limits ------------------------------------------------------------------------


def test_copy_limits_count_clones_backups_and_templates() -> None:
    backups = tuple(
        CopyFact(
            "backup", f"pbs:backup/{n}", "pbs", "approved", "", NOW - timedelta(days=n), False, 1
        )
        for n in range(4)
    )
    guest = vm(1, clones=3, templates=1, copies=backups, classification="sensitive")
    params = {"max_clones": 2, "max_backups": 2}
    found = evaluate_policy(spec("copy_limits", params), fleet(guest), NOW)
    assert keys(found) == {"clones", "backups", "template"}
    deletes = next(f for f in found if f.rule_key == "backups").remedies
    assert [a.params["volid"] for a in deletes] == ["pbs:backup/3", "pbs:backup/2"]  # oldest first
    assert first_action(found, "clones") is None
    within = vm(1, clones=2, copies=backups[:2])
    assert evaluate_policy(spec("copy_limits", params), fleet(within), NOW) == []


# --- data lifetime ----------------------------------------------------------------------


def test_data_lifetime_snapshots_vmstate_and_backups() -> None:
    copies = (
        CopyFact("snapshot", "old", "", "", "", NOW - timedelta(days=40), False, 0),
        CopyFact("snapshot", "fresh-ram", "", "", "", NOW - timedelta(days=1), True, 0),
        CopyFact("snapshot", "fresh", "", "", "", NOW - timedelta(days=1), False, 0),
        CopyFact(
            "backup", "pbs:backup/old", "pbs", "approved", "", NOW - timedelta(days=100), False, 1
        ),
    )
    params = {"max_snapshot_age_days": 30, "no_vmstate_snapshots": True, "max_backup_age_days": 90}
    found = evaluate_policy(spec("data_lifetime", params), fleet(vm(1, copies=copies)), NOW)
    assert keys(found) == {"snapshot:old", "snapshot:fresh-ram", "backup:pbs:backup/old"}
    assert first_action(found, "snapshot:old").params == {"snapshot": "old"}
    assert first_action(found, "backup:pbs:backup/old").kind == "backup_delete"


# --- dormancy / patch debt --------------------------------------------------------------


def test_dormant_guest_is_reported_while_off_and_quarantined_once_started() -> None:
    policy = spec("dormancy_quarantine", {"days": 30})
    off = vm(1, status="stopped", last_running=NOW - timedelta(days=45))
    found = evaluate_policy(policy, fleet(off), NOW)
    assert keys(found) == {"dormant"}
    assert found[0].remedies == ()
    assert (
        evaluate_policy(policy, fleet(off._replace(last_running=NOW - timedelta(days=3))), NOW)
        == []
    )

    started = vm(1, status="running", last_running=NOW - timedelta(hours=1))
    remembered = fleet(started, open_keys={policy.id: {1: frozenset({"dormant"})}})
    found = evaluate_policy(policy, remembered, NOW)
    assert first_action(found, "dormant").params["cause"] == "dormancy"
    # Nothing remembered: a running guest is fine.
    assert evaluate_policy(policy, fleet(started), NOW) == []
    # The owner's confirmation after the start ends the debt.
    confirmed = started._replace(patch_confirmed_at=NOW - timedelta(minutes=5))
    assert evaluate_policy(policy, remembered._replace(vms=(confirmed,)), NOW) == []


# --- rollback awareness -----------------------------------------------------------------


def test_rollback_vmgenid_and_rng() -> None:
    rolled = vm(
        1,
        vmgenid="",
        has_rng=False,
        rollbacks=(RollbackFact(NOW - timedelta(hours=2), "task", "before-upgrade", "UPID:x"),),
    )
    found = evaluate_policy(spec("rollback_awareness", {"quarantine": True}), fleet(rolled), NOW)
    assert keys(found) == {"rollback", "vmgenid", "rng"}
    assert first_action(found, "rollback").kind == "quarantine_apply"
    assert first_action(found, "vmgenid").params == {
        "key": "vmgenid",
        "value": "1",
        "digest": "digest-1",
    }
    assert first_action(found, "rng").params["key"] == "rng0"
    reported = evaluate_policy(spec("rollback_awareness"), fleet(rolled), NOW)
    assert first_action(reported, "rollback") is None
    # Containers have neither vmgenid nor rng.
    assert (
        evaluate_policy(
            spec("rollback_awareness"), fleet(vm(1, kind="lxc", vmgenid="", has_rng=False)), NOW
        )
        == []
    )


# --- ownership required / lease expired -------------------------------------------------


def test_unowned_guest_acts_only_after_the_grace_period() -> None:
    params = {"grace_days": 7, "action": "stop"}
    young = vm(1, first_seen=NOW - timedelta(days=2))
    found = evaluate_policy(spec("ownership_required", params), fleet(young), NOW)
    assert keys(found) == {"unowned"}
    assert found[0].remedies == ()
    old = vm(1, first_seen=NOW - timedelta(days=8))
    assert (
        first_action(
            evaluate_policy(spec("ownership_required", params), fleet(old), NOW), "unowned"
        ).kind
        == "stop"
    )
    assert evaluate_policy(spec("ownership_required", params), fleet(vm(1, owner_id=5)), NOW) == []


def test_expired_lease_is_stopped_or_quarantined_after_grace() -> None:
    ended = vm(1, owner_id=5, lease_end=date(2026, 5, 20))
    stop = evaluate_policy(spec("lease_expired", {"grace_days": 7}), fleet(ended), NOW)
    assert first_action(stop, "lease").kind == "stop"
    fenced = evaluate_policy(spec("lease_expired", {"action": "quarantine"}), fleet(ended), NOW)
    assert first_action(fenced, "lease").params["cause"] == "lease_expired"
    grace = evaluate_policy(
        spec("lease_expired"), fleet(ended._replace(lease_end=date(2026, 5, 30))), NOW
    )
    assert first_action(grace, "lease") is None
    assert (
        evaluate_policy(
            spec("lease_expired"), fleet(ended._replace(lease_end=date(2026, 6, 1))), NOW
        )
        == []
    )


# --- identity conflicts -----------------------------------------------------------------


def test_identity_conflicts_report_uuid_and_mac_clashes_without_remedy() -> None:
    clashes = {
        1: (
            IdentityClash("uuid", "", "u-1", (2,)),
            IdentityClash("mac", "net0", "BC:24:11:00:00:01", (2,)),
        ),
    }
    found = evaluate_policy(
        spec("identity_conflicts"), fleet(vm(1), vm(2), identity_clashes=clashes), NOW
    )
    assert {(f.vm_id, f.rule_key) for f in found} == {(1, "uuid"), (1, "mac:net0")}
    assert all(f.remedies == () for f in found)


# --- unbacked ACL -----------------------------------------------------------------------


def test_unbacked_acl_entries_are_found_and_backed_ones_are_not() -> None:
    entries = (
        AclFact("/vms/101", "alice@pve", "user", "StewardUser", True),  # owner: backed
        AclFact("/vms/101", "mallory@pve", "user", "PVEVMAdmin", True),  # nobody backs it
        AclFact("/", "root@pam", "user", "Administrator", True),  # ignored by default
        AclFact("/", "steward@pve!sync", "token", "Administrator", True),  # our token
        AclFact("/storage/usb", "ops", "group", "PVEDatastoreUser", True),  # cluster-level
        AclFact("/pool/x", "bob@pve", "user", "PVEAuditor", True),  # backed by a RightsAssignment
        AclFact("/vms/999", "eve@pve", "user", "PVEVMUser", True),  # guest outside the scope
    )
    c = cluster(acl_entries=entries, backed_acls=frozenset({("/pool/x", "bob@pve", "PVEAuditor")}))
    facts = fleet(vm(1, owner_id=5), clusters=(c,), usernames={5: "alice"})
    found = evaluate_policy(spec("unbacked_acl"), facts, NOW)
    assert {(f.vm_id, f.rule_key) for f in found} == {
        (1, "acl:/vms/101:mallory@pve:PVEVMAdmin"),
        (None, "acl:/storage/usb:ops:PVEDatastoreUser"),
    }
    delete = first_action(found, "acl:/storage/usb:ops:PVEDatastoreUser")
    assert (delete.kind, delete.params["ugid_type"]) == ("acl_delete", "group")


# --- scope and exemptions ---------------------------------------------------------------


def test_scope_keys_combine_with_and_values_with_or() -> None:
    guests = (
        vm(1, tags=frozenset({"prod"}), classification="sensitive", team_id=3),
        vm(2, tags=frozenset({"dev"}), classification="sensitive", team_id=3),
        vm(3, tags=frozenset({"prod"}), classification="public", team_id=3),
        vm(4, tags=frozenset({"prod"}), classification="sensitive", cluster_id=2),
    )
    facts = fleet(*guests, clusters=(cluster(1), cluster(2)), team_slugs={3: "red"})
    scope = {"clusters": ["pve-1"], "tags": ["prod", "web"], "classifications": ["sensitive"]}
    assert [g.id for g in in_scope(scope, facts)] == [1]
    assert [g.id for g in in_scope({"teams": ["red"]}, facts)] == [1, 2, 3]
    assert [g.id for g in in_scope({"vms": [4, 2]}, facts)] == [2, 4]
    assert in_scope({}, facts) == []


def test_exemptions_mark_findings_waived_and_audit_mode_never_enforces() -> None:
    facts = fleet(vm(1, node="node3"), vm(2, node="node3"))
    pinning = spec("host_pinning", {"allowed_nodes": ["node1"]})
    found = evaluate_fleet([pinning], facts, {(7, 1): frozenset({""})}, NOW)
    assert [(f.vm_id, f.exempt, f.enforced) for f in found] == [(1, True, False), (2, False, True)]
    audit = evaluate_fleet([pinning._replace(mode="audit")], facts, {}, NOW)
    assert [f.enforced for f in audit] == [False, False]
    assert all(f.remedies for f in audit)  # the dry run still shows what enforce would do
    assert evaluate_fleet([pinning._replace(enabled=False)], facts, {}, NOW) == []
