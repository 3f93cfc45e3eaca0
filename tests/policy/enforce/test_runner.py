"""The remediation runner against pvesim: done, retried on a lock or a stale digest
without harm, never executed twice, not possible where Proxmox refuses, audited."""

from __future__ import annotations

import pytest

from governance.audit.models import AuditEvent
from policy.models import ActionKind, RemediationRunState, RemediationState
from policy.remediation import remediation_step
from policy.remediation.runner import MAX_ATTEMPTS
from tests.policy.enforce.helpers import (
    at,
    plain_qemu,
    remediation_make,
    run_to_end,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _iso_vm(synced):
    """A qemu guest with an ISO in its CD-ROM drive, put there by an admin."""
    guest = synced.guest(plain_qemu)
    iso = next(
        v.volid
        for s in synced.sim.cluster.estate.storages.values()
        if "iso" in s.content
        for v in synced.gateway.storage_content(node=guest.node, storage=s.storage)
        if v.content == "iso"
    )
    response = synced.sim.api(
        "PUT", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", data={"ide2": f"{iso},media=cdrom"}
    )
    assert response.status_code == 200, response.text
    synced.sync()
    return guest, synced.vm(guest.vmid)


def test_detach_media_is_done_visible_in_proxmox_and_audited(synced):
    guest, vm = _iso_vm(synced)
    rem = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")

    step = run_to_end(synced, rem)

    rem.refresh_from_db()
    assert (step.state, rem.state, rem.attempts) == ("done", "done", 1)
    assert synced.sim.cluster.estate.guests[guest.vmid].config["ide2"] == "none,media=cdrom"
    assert rem.violation.__class__.objects.get(pk=rem.violation_id).remediation_state == "done"
    assert AuditEvent.objects.filter(action="policy.remediation.done").count() == 1
    # Level-triggered: a second remediation of the same finding finds nothing to do.
    again = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")
    run_to_end(synced, again)
    again.refresh_from_db()
    assert "already holds no media" in again.log


def test_locked_guest_retries_later_without_harm(synced):
    guest, vm = _iso_vm(synced)
    synced.sim.control("POST", "guest/lock", vmid=guest.vmid, lock="backup")
    rem = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")

    step = remediation_step(remediation_id=rem.pk, gateway=synced.gateway)

    rem.refresh_from_db()
    assert (step.state, rem.state, rem.upid) == ("pending", "pending", "")
    assert step.again_in == pytest.approx(30)
    assert "locked" in rem.log
    assert synced.sim.cluster.estate.guests[guest.vmid].config["ide2"].endswith("media=cdrom")
    assert "none" not in synced.sim.cluster.estate.guests[guest.vmid].config["ide2"]
    # Not due yet: a step now changes nothing.
    assert remediation_step(remediation_id=rem.pk, gateway=synced.gateway).again_in > 0
    rem.refresh_from_db()
    assert rem.attempts == 1

    synced.sim.control("POST", "guest/unlock", vmid=guest.vmid)
    step = remediation_step(remediation_id=rem.pk, now=at(31), gateway=synced.gateway)
    rem.refresh_from_db()
    assert (step.state, rem.attempts) == ("done", 2)
    assert synced.sim.cluster.estate.guests[guest.vmid].config["ide2"] == "none,media=cdrom"


def test_stale_digest_retries_and_keeps_the_admins_change(synced, monkeypatch):
    guest, vm = _iso_vm(synced)
    rem = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")
    real_read = synced.gateway.guest_config

    def read_then_admin_edits(**where):
        config = real_read(**where)
        synced.sim.api(
            "PUT", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", data={"description": "admin"}
        )
        return config

    monkeypatch.setattr(synced.gateway, "guest_config", read_then_admin_edits)
    step = remediation_step(remediation_id=rem.pk, gateway=synced.gateway)
    rem.refresh_from_db()
    assert (step.state, rem.state) == ("pending", "pending")
    assert "checksum mismatch" in rem.log
    assert synced.sim.cluster.estate.guests[guest.vmid].config["description"] == "admin"

    monkeypatch.setattr(synced.gateway, "guest_config", real_read)
    assert remediation_step(remediation_id=rem.pk, now=at(31), gateway=synced.gateway).state == (
        "done"
    )
    config = synced.sim.cluster.estate.guests[guest.vmid].config
    assert (config["description"], config["ide2"]) == ("admin", "none,media=cdrom")


def test_gives_up_after_max_attempts(synced):
    guest, vm = _iso_vm(synced)
    synced.sim.control("POST", "guest/lock", vmid=guest.vmid, lock="backup")
    rem = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")
    step = None
    for attempt in range(MAX_ATTEMPTS):
        step = remediation_step(
            remediation_id=rem.pk, now=at(4000 * attempt), gateway=synced.gateway
        )
    rem.refresh_from_db()
    assert (step.state, rem.state, rem.attempts) == ("failed", "failed", MAX_ATTEMPTS)
    assert rem.violation.remediation_state == RemediationState.FAILED


def test_never_executed_twice(synced):
    _guest, vm = _iso_vm(synced)
    rem = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")
    assert run_to_end(synced, rem).state == "done"
    writes = dict(synced.gateway.calls)
    for _ in range(3):
        assert remediation_step(remediation_id=rem.pk, gateway=synced.gateway).again_in is None
    assert synced.gateway.calls == writes
    # A second worker arriving while the first is mid-call backs off.
    other = remediation_make(synced, vm, ActionKind.DETACH_MEDIA, key="ide2", line="", digest="")
    type(other).objects.filter(pk=other.pk).update(
        state=RemediationRunState.RUNNING, started_at=at(0)
    )
    assert remediation_step(remediation_id=other.pk, gateway=synced.gateway).again_in is None
    assert synced.gateway.calls == writes


def test_real_usb_device_is_not_possible_for_a_token(synced):
    guest = synced.guest(plain_qemu)
    usb = synced.sim.cluster.estate.nodes[guest.node].usb[0]
    key = synced.sim.control(
        "POST", "guest/attach-usb", vmid=guest.vmid, device=f"{usb.vendid}:{usb.prodid}"
    )["key"]
    synced.sync()
    rem = remediation_make(
        synced, synced.vm(guest.vmid), ActionKind.REMOVE_DEVICE, key=key, line="", digest=""
    )
    assert run_to_end(synced, rem).state == "not_possible"
    rem.refresh_from_db()
    assert "only root" in rem.error
    assert rem.violation.remediation_state == RemediationState.NOT_POSSIBLE
    assert key in synced.sim.cluster.estate.guests[guest.vmid].config


def test_migrate_back_polls_the_task_then_verifies(synced):
    guest = synced.guest(
        lambda g: (
            plain_qemu(g)
            and g.running
            and not any(k.startswith(("usb", "hostpci", "serial")) for k in g.config)
        )
    )
    home = guest.node
    away = next(n for n in sorted(synced.sim.cluster.estate.nodes) if n != home)
    upid = synced.sim.control("POST", "guest/migrate", vmid=guest.vmid, target=away, online=1)
    synced.sim.advance(600)
    assert synced.sim.cluster.estate.guests[guest.vmid].node == away, upid
    synced.sync()
    rem = remediation_make(
        synced, synced.vm(guest.vmid), ActionKind.MIGRATE, target=home, online=True
    )

    first = remediation_step(remediation_id=rem.pk, gateway=synced.gateway)
    rem.refresh_from_db()
    assert (first.state, first.again_in) == ("running", 5.0)
    assert ":qmigrate:" in rem.upid
    assert remediation_step(remediation_id=rem.pk, gateway=synced.gateway).state == "running"
    synced.sim.advance(600)
    assert remediation_step(remediation_id=rem.pk, gateway=synced.gateway).state == "done"
    moved = synced.sim.cluster.estate.guests[guest.vmid]
    assert (moved.node, moved.running) == (home, True)
