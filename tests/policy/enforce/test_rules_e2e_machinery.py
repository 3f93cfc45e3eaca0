"""The machinery around the rules, end to end against pvesim: an ACL an admin added out
of band is deleted in enforce mode and only reported in audit mode; the Celery task
re-queues itself past a locked guest and the beat task picks up what is due; an expired
exemption lets the next cycle remediate; a dry run (service, command or remediation
row) changes nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from policy.models import Exemption, Policy, Remediation, Violation
from policy.remediation import remediation_step
from policy.services import reconcile
from policy.tasks import exemptions_expire, remediation_run, remediations_due
from tests.factories import UserFactory
from tests.policy.enforce.e2e import Clock, cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu

pytestmark = pytest.mark.django_db(transaction=True)

ISO = "local:iso/debian-12.8.0-amd64-netinst.iso"


@pytest.fixture
def clock(synced, monkeypatch):
    return Clock(synced, monkeypatch)


def _insert_iso(synced, guest) -> None:
    response = synced.sim.api(
        "PUT",
        f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
        data={"ide2": f"{ISO},media=cdrom"},
    )
    assert response.status_code == 200, response.text


def _ide2(synced, guest) -> str:
    return synced.sim.cluster.estate.guests[guest.vmid].config["ide2"]


def _acl(synced) -> set[tuple[str, str, str]]:
    return {(a.path, a.ugid, a.roleid) for a in synced.gateway.acl()}


def test_out_of_band_acl_deleted_in_enforce_and_reported_in_audit(synced, recorder):
    enforced, audited = [g for g in synced.sim.cluster.estate.guests.values() if plain_qemu(g)][:2]
    policy_on("unbacked_acl", [synced.vm(enforced.vmid)])
    policy_on("unbacked_acl", [synced.vm(audited.vmid)], mode="audit")
    response = synced.sim.api("POST", "/access/users", data={"userid": "mallory@pve"})
    assert response.status_code == 200, response.text
    for guest in (enforced, audited):
        synced.sim.control(
            "POST", "acl/add", path=f"/vms/{guest.vmid}", roles="PVEVMAdmin", users="mallory@pve"
        )

    [deleted] = cycle(synced)

    assert (deleted.action, deleted.state) == ("acl_delete", "done"), deleted.log
    acl = _acl(synced)
    assert (f"/vms/{enforced.vmid}", "mallory@pve", "PVEVMAdmin") not in acl
    assert (f"/vms/{audited.vmid}", "mallory@pve", "PVEVMAdmin") in acl
    key = f"acl:/vms/{audited.vmid}:mallory@pve:PVEVMAdmin"
    assert open_violation(synced.vm(audited.vmid), key).evidence["ugid"] == "mallory@pve"
    assert recorder.writes == [("DELETE", "/access/acl")] or [m for m, _ in recorder.writes] == [
        "PUT"
    ]  # PVE deletes an ACL entry with PUT /access/acl delete=1
    synced.sync()
    resolved = Violation.objects.get(vm__vmid=enforced.vmid)
    assert resolved.resolved_at is not None


def test_celery_task_requeues_past_a_locked_guest_then_finishes(synced, clock, recorder):
    guest = synced.guest(plain_qemu)
    policy_on("no_removable_media", [synced.vm(guest.vmid)], check_disks=False)
    _insert_iso(synced, guest)
    synced.sim.control("POST", "guest/lock", vmid=guest.vmid, lock="backup")
    synced.sync()
    [remediation] = Remediation.objects.all()
    assert recorder.queued == [(remediation.pk, 0)]

    assert remediation_run(remediation.pk) == "pending"  # the task body, as a worker runs it
    assert recorder.queued[-1] == (remediation.pk, 30.0)  # re-queued with backoff
    assert _ide2(synced, guest).startswith(ISO)  # nothing changed meanwhile
    assert remediations_due() == []  # not due yet

    synced.sim.control("POST", "guest/unlock", vmid=guest.vmid)
    clock.advance(seconds=31)
    assert remediations_due() == [remediation.pk]  # beat re-queues a lost message
    assert remediation_run(remediation.pk) == "done"
    queued = len(recorder.queued)
    assert remediation_run(remediation.pk) == "done"  # never executed twice
    assert len(recorder.queued) == queued
    assert _ide2(synced, guest) == "none,media=cdrom"


def test_expired_exemption_lets_the_next_cycle_remediate(synced, clock, recorder):
    guest = synced.guest(plain_qemu)
    vm = synced.vm(guest.vmid)
    policy = policy_on("no_removable_media", [vm], check_disks=False)
    Exemption.objects.create(
        policy=policy,
        vm=vm,
        rule_key="ide2",
        until=timezone.now() + timedelta(days=1),
        reason="installing from the ISO this week",
        granted_by=UserFactory(username="sofia"),
        granted_at=timezone.now(),
    )
    _insert_iso(synced, guest)

    assert cycle(synced) == []
    assert open_violation(vm, "ide2").remediation_state == "waived"
    assert _ide2(synced, guest).startswith(ISO)

    clock.advance(days=2)
    assert exemptions_expire() == 1
    assert open_violation(vm, "ide2").remediation_state == "none"
    [detach] = cycle(synced)
    assert (detach.action, detach.state) == ("detach_media", "done"), detach.log
    assert _ide2(synced, guest) == "none,media=cdrom"
    assert exemptions_expire() == 0  # level-triggered: nothing more to do


def test_dry_runs_change_nothing(synced, recorder):
    guest = synced.guest(plain_qemu)
    _insert_iso(synced, guest)
    synced.sync()  # no policy yet: nothing to reconcile
    policy_on("no_removable_media", [synced.vm(guest.vmid)], check_disks=False)

    result = reconcile(cluster_id=synced.cluster.pk, dry_run=True)
    out = io.StringIO()
    call_command("reconcile", "--dry-run", stdout=out)

    assert [p.action.kind for p in result.planned] == ["detach_media"]
    assert "detach_media" in out.getvalue()
    assert not Violation.objects.exists()
    assert not Remediation.objects.exists()
    # A remediation row marked as a dry run is never executed, by the runner or the task.
    now = timezone.now()
    violation = Violation.objects.create(
        policy=Policy.objects.get(),
        cluster=synced.cluster,
        vm=synced.vm(guest.vmid),
        rule_key="ide2",
        summary="preview",
        first_detected=now,
        last_seen=now,
    )
    dry = Remediation.objects.create(
        violation=violation,
        cluster=synced.cluster,
        vm=violation.vm,
        action="detach_media",
        params={"key": "ide2", "line": "", "digest": ""},
        created_at=now,
        dry_run=True,
    )
    assert remediation_step(remediation_id=dry.pk, gateway=synced.gateway).again_in is None
    assert remediation_run(dry.pk) == "pending"
    assert recorder.writes == []
    assert recorder.queued == []
    assert _ide2(synced, guest).startswith(ISO)


def test_audit_mode_of_every_kind_reports_and_never_writes(synced, recorder):
    from governance.ownership.models import Ownership
    from policy.models import PolicyKind
    from tests.policy.enforce.e2e import vzdump

    estate = synced.sim.cluster.estate
    live = synced.guest(
        lambda g: (
            plain_qemu(g)
            and g.running
            and not any(k.startswith(("usb", "hostpci", "serial")) for k in g.config)
        )
    )
    idle = synced.guest(lambda g: plain_qemu(g) and not g.running)
    away = next(n for n in sorted(estate.nodes) if n != live.node)
    # An admin's afternoon: USB stick, RAM snapshot, a backup, a copied MAC, an ACL.
    usb = estate.nodes[live.node].usb[0]
    synced.sim.control(
        "POST", "guest/attach-usb", vmid=live.vmid, device=f"{usb.vendid}:{usb.prodid}"
    )
    synced.sim.control("POST", "guest/snapshot", vmid=live.vmid, snapname="ram", vmstate=1)
    vzdump(synced, live, "pbs")
    mac = live.config["net0"].split(",", 1)[0]
    synced.sim.api(
        "PUT",
        f"/nodes/{idle.node}/qemu/{idle.vmid}/config",
        data={"net0": idle.config["net0"].replace(idle.config["net0"].split(",", 1)[0], mac)},
    )
    synced.sim.api("POST", "/access/users", data={"userid": "mallory@pve"})
    synced.sim.control(
        "POST", "acl/add", path=f"/vms/{live.vmid}", roles="PVEVMAdmin", users="mallory@pve"
    )
    synced.sync()
    vm, off = synced.vm(live.vmid), synced.vm(idle.vmid)
    Ownership.objects.create(
        vm=off,
        owner=UserFactory(username="lee"),
        since=off.first_seen,
        lease_end=(timezone.now() - timedelta(days=30)).date(),
        source="manual",
    )
    audit = {"mode": "audit"}
    policy_on("host_pinning", [vm], allowed_nodes=[away], **audit)
    policy_on("no_removable_media", [vm], check_disks=False, **audit)
    policy_on("copy_limits", [vm], max_backups=0, **audit)
    policy_on("data_lifetime", [vm], no_vmstate_snapshots=True, **audit)
    policy_on("dormancy_quarantine", [off], days=0, **audit)
    policy_on("rollback_awareness", [vm], **audit)
    policy_on("ownership_required", [vm], grace_days=0, action="stop", **audit)
    policy_on("lease_expired", [off], grace_days=0, action="quarantine", **audit)
    policy_on("identity_conflicts", [vm, off], **audit)
    policy_on("unbacked_acl", [vm], **audit)

    assert cycle(synced) == []

    reported = set(
        Violation.objects.filter(resolved_at__isnull=True).values_list("policy__kind", flat=True)
    )
    assert reported == set(PolicyKind.values)
    assert not Remediation.objects.exists()
    assert recorder.writes == []
    assert recorder.queued == []
    assert estate.guests[live.vmid].node == live.node
