"""Provision, export (with expiry), clone, rollback and access requests run by the engine
against pvesim: what each leaves in Proxmox, the inventory and the ledgers (imports are
in test_imports)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.approvals.execution.kinds.export import exports_expire
from governance.approvals.models import AccessGrant, ExecutionState, GrantState, StepState
from governance.ownership.models import Ownership
from inventory.models import Copy, CopyKind, VirtualMachine
from tests.factories import TeamFactory
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_provision,
    approved_request,
    execution_begin,
    new_vm,
    run_succeeded,
    steps_by_name,
)
from tests.policy.enforce.helpers import plain_qemu

pytestmark = pytest.mark.django_db


def test_provision_from_a_template_is_owned_by_the_requester(synced, alice):
    template = VirtualMachine.objects.filter(cluster=synced.cluster, template=True).first()
    team = TeamFactory(name="Ops")
    request = approved_provision(
        synced,
        alice,
        template=template,
        name="web-7",
        size=(4, 4096, 16),
        team=team,
        classification="sensitive",
        lease_end=(timezone.localdate() + timedelta(days=90)).isoformat(),
    )

    execution = run_succeeded(synced, request, stride=30)

    vm = new_vm(synced, execution)
    guest = synced.sim.cluster.estate.guests[vm.vmid]
    assert guest.node == "alpha2"
    assert guest.config["name"] == "web-7"
    assert guest.config["cores"] == "4"
    assert guest.config["memory"] == "4096"
    ownership = Ownership.objects.get(vm=vm, until__isnull=True)
    assert (ownership.owner, ownership.team) == (alice, team)
    assert ownership.lease_end is not None
    assert vm.classification == "sensitive"
    assert request.vm == vm
    assert steps_by_name(execution)["create"].state == StepState.SKIPPED


def test_provision_from_scratch_creates_the_disk_on_the_approved_storage(synced, alice):
    request = approved_provision(
        synced, alice, name="db-1", size=(2, 2048, 32), node="alpha3", storage="local-lvm"
    )

    execution = run_succeeded(synced, request)

    vm = new_vm(synced, execution)
    guest = synced.sim.cluster.estate.guests[vm.vmid]
    assert guest.node == "alpha3"
    assert guest.config["scsi0"].startswith(f"local-lvm:vm-{vm.vmid}-disk-0")
    assert "size=32G" in guest.config["scsi0"]
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    assert steps_by_name(execution)["clone"].state == StepState.SKIPPED


def test_export_is_recorded_and_deleted_when_it_expires(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    request = approved_request(
        kind="export", requester=alice, vm=vm, storage="nfs-iso", available_days=7
    )

    execution = run_succeeded(synced, request, stride=30)

    volid = steps_by_name(execution)["archive"].result["volid"]
    export = Copy.objects.get(kind=CopyKind.EXPORT, name=volid, deleted_at__isnull=True)
    assert (export.vm, export.storage_name, export.node) == (vm, "nfs-iso", "")
    assert export.task_upid == steps_by_name(execution)["backup"].upid

    assert exports_expire(now=timezone.now() + timedelta(days=6)) == 0
    assert exports_expire(now=timezone.now() + timedelta(days=7, minutes=1)) == 1
    synced.sim.advance(60)
    export.refresh_from_db()
    assert export.deleted_at is not None
    stored = synced.gateway.storage_content(node=guest.node, storage="nfs-iso")
    assert volid not in {v.volid for v in stored}
    assert exports_expire(now=timezone.now() + timedelta(days=8)) == 0


def test_clone_is_a_new_guest_owned_by_the_requester(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running)
    vm = synced.vm(guest.vmid)
    request = approved_request(
        kind="clone", requester=alice, vm=vm, name="copy-1", target_node=guest.node, full=True
    )

    execution = run_succeeded(synced, request, stride=30)

    new = new_vm(synced, execution)
    assert new.pk != vm.pk
    assert synced.sim.cluster.estate.guests[new.vmid].config["name"] == "copy-1"
    assert Ownership.objects.get(vm=new, until__isnull=True).owner == alice


def test_rollback_returns_the_guest_to_its_snapshot(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running)
    synced.sim.control("POST", "guest/snapshot", vmid=guest.vmid, snapname="good")
    synced.sim.api(
        "PUT", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", data={"description": "broken"}
    )
    synced.sync()
    request = approved_request(
        kind="rollback", requester=alice, vm=synced.vm(guest.vmid), snapshot="good"
    )

    execution = run_succeeded(synced, request)

    assert synced.sim.cluster.estate.guests[guest.vmid].config.get("description") != "broken"
    assert steps_by_name(execution)["rollback"].upid


def test_rollback_to_a_vanished_snapshot_fails_before_any_task(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running)
    request = approved_request(
        kind="rollback", requester=alice, vm=synced.vm(guest.vmid), snapshot="nope"
    )
    execution = Driver([synced.sim]).run(execution_begin(request))
    assert execution.state == ExecutionState.FAILED
    assert "does not exist" in execution.error
    assert not steps_by_name(execution)["rollback"].upid


def test_access_request_grants_now_and_the_reconciler_ends_it(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    now = timezone.now()
    request = approved_request(
        kind="access",
        requester=alice,
        vm=vm,
        grantee=alice.pk,
        role="PVEVMUser",
        starts_at=(now - timedelta(minutes=1)).isoformat(),
        ends_at=(now + timedelta(hours=1)).isoformat(),
    )

    run_succeeded(synced, request)

    grant = AccessGrant.objects.get(request=request)
    assert grant.state == GrantState.ACTIVE
    assert any(a.path == f"/vms/{vm.vmid}" and a.ugid == "alice@pve" for a in synced.gateway.acl())


@pytest.mark.parametrize(("name", "outcome"), [("intruder", "failed"), ("db-2", "succeeded")])
def test_a_reserved_vmid_found_taken_is_ours_only_with_our_name(synced, alice, name, outcome):
    """Taken by someone else: the request fails clearly. Taken by an earlier attempt of
    this step (same name: its UPID was lost): it counts as created, nothing is made twice."""
    request = approved_provision(synced, alice, name="db-2", size=(1, 1024, 8), node="alpha2")
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="reserve", state=StepState.DONE)
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    made = synced.sim.api(
        "POST", "/nodes/alpha2/qemu", data={"vmid": vmid, "name": name, "scsi0": "local-lvm:8"}
    )
    assert made.status_code == 200, made.text
    synced.sim.advance(10)

    execution = driver.run(execution)

    assert execution.state == outcome
    if outcome == "failed":
        assert f"vmid {vmid} was taken" in execution.error
        assert synced.sim.cluster.estate.guests[vmid].config["name"] == "intruder"
    else:
        assert Ownership.objects.get(vm__vmid=vmid, until__isnull=True).owner == alice
    assert not steps_by_name(execution)["create"].upid
