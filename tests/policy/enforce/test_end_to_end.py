"""End to end against pvesim: an admin's out-of-band change -> sync -> reconcile ->
violation -> (enforce) remediation visible in Proxmox / (audit) only reported."""

from __future__ import annotations

import pytest

from inventory.models import Storage, StorageClass
from policy.models import Remediation, Violation
from policy.services import reconcile
from policy.services.quarantine import quarantine_apply, quarantine_lift
from policy.services.rights import rights_sync
from tests.policy.enforce.helpers import plain_qemu, policy_make, run_to_end, storages_approve

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quarantine_hosts")]

WRITES = ("PUT", "POST", "DELETE")


def _insert_iso(synced):
    guest = synced.guest(plain_qemu)
    iso_storage, iso = next(
        (s.storage, v.volid)
        for s in synced.sim.cluster.estate.storages.values()
        if "iso" in s.content
        for v in synced.gateway.storage_content(node=guest.node, storage=s.storage)
        if v.content == "iso"
    )
    storages_approve(synced, removable=(iso_storage,))
    synced.sim.api(
        "PUT", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", data={"ide2": f"{iso},media=cdrom"}
    )
    synced.sync()
    return guest


def _writes(gateway) -> int:
    return sum(n for call, n in gateway.calls.items() if call.split(" ", 1)[0] in WRITES)


def test_removable_media_enforced_then_clean_cycle_writes_nothing(synced):
    guest = _insert_iso(synced)
    policy_make("no_removable_media", check_disks=False, check_backups=False)

    result = reconcile(cluster_id=synced.cluster.pk)

    violation = Violation.objects.get(vm__vmid=guest.vmid, rule_key="ide2")
    remediation = Remediation.objects.get(violation=violation)
    assert remediation.action == "detach_media"
    assert remediation.pk in result.remediation_ids
    assert run_to_end(synced, remediation).state == "done"
    assert synced.sim.cluster.estate.guests[guest.vmid].config["ide2"] == "none,media=cdrom"

    synced.sync()
    reconcile(cluster_id=synced.cluster.pk)
    violation.refresh_from_db()
    assert violation.resolved_at is not None
    before = _writes(synced.gateway)
    again = reconcile(cluster_id=synced.cluster.pk)
    assert not [
        r for r in again.remediation_ids if Remediation.objects.get(pk=r).vm.vmid == guest.vmid
    ]
    assert _writes(synced.gateway) == before


def test_audit_mode_only_reports(synced):
    guest = _insert_iso(synced)
    policy_make("no_removable_media", mode="audit", check_disks=False, check_backups=False)
    reconcile(cluster_id=synced.cluster.pk)
    assert Violation.objects.filter(vm__vmid=guest.vmid, rule_key="ide2").exists()
    assert not Remediation.objects.exists()
    assert "none" not in synced.sim.cluster.estate.guests[guest.vmid].config["ide2"]


def test_quarantine_applied_verified_and_lifted(synced):
    guest = synced.guest(plain_qemu)
    vm = synced.vm(guest.vmid)
    q = quarantine_apply(vm=vm, reason="suspected compromise", actor=None)
    rem = Remediation.objects.get(quarantine=q)
    assert run_to_end(synced, rem).state == "done"
    q.refresh_from_db()
    assert q.applied_state == "verified"
    gw = synced.gateway
    rules = gw.guest_firewall_rules(node=guest.node, kind="qemu", vmid=guest.vmid)
    assert (rules[0].type, rules[0].action) == ("group", "steward-quarantine")
    assert gw.guest_firewall_options(node=guest.node, kind="qemu", vmid=guest.vmid).enabled
    dests = {r.dest for r in gw.security_group_rules(group="steward-quarantine")}
    assert dests == {"10.0.0.53", "10.0.0.80", ""}

    lift = quarantine_lift(quarantine=q, actor=None, reason="cleaned")
    assert run_to_end(synced, lift).state == "done"
    q.refresh_from_db()
    assert (q.applied_state, q.lifted_at is not None) == ("lifted", True)
    rules = gw.guest_firewall_rules(node=guest.node, kind="qemu", vmid=guest.vmid)
    assert not any(r.action == "steward-quarantine" for r in rules)


def test_rights_sync_grants_owners_least_privilege_and_is_idempotent(synced):
    from governance.ownership.models import Ownership
    from tests.factories import UserFactory

    alice = UserFactory(username="alice")
    guest = synced.guest(plain_qemu)
    vm = synced.vm(guest.vmid)
    Ownership.objects.create(vm=vm, owner=alice, since=vm.first_seen, source="manual")
    Storage.objects.filter(cluster=synced.cluster, name="local").update(
        storage_class=StorageClass.APPROVED
    )
    plan = rights_sync(cluster_id=synced.cluster.pk, gateway=synced.gateway)
    assert plan.applied
    assert (f"/vms/{guest.vmid}", "alice@pve", "StewardUser") in plan.acl_add
    role = {r.roleid: r for r in synced.gateway.roles()}["StewardUser"]
    assert not role.privs & {"VM.Migrate", "VM.Clone", "VM.Backup", "VM.Config.CDROM"}
    acl = {(a.path, a.ugid, a.roleid) for a in synced.gateway.acl()}
    assert (f"/vms/{guest.vmid}", "alice@pve", "StewardUser") in acl
    assert ("/storage/local", "alice@pve", "StewardStorage") in acl
    before = _writes(synced.gateway)
    assert rights_sync(cluster_id=synced.cluster.pk, gateway=synced.gateway).empty
    assert _writes(synced.gateway) == before
