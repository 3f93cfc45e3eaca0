"""Provision, import, export (with expiry), clone, rollback and access requests run by the
engine against pvesim: what each leaves in Proxmox, the inventory and the ledgers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.execution.base import MAX_STEP_ATTEMPTS
from governance.approvals.execution.kinds.export import exports_expire
from governance.approvals.models import AccessGrant, ExecutionState, GrantState, StepState
from governance.ownership.models import Ownership
from inventory.models import Copy, CopyKind, VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from policy.models import ActionKind, Quarantine, QuarantineState, Remediation
from policy.remediation.quarantine import quarantine_group
from tests.factories import TeamFactory, UserFactory
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_request,
    execution_begin,
    left_by_dead_worker,
    steps_by_name,
)
from tests.policy.enforce.helpers import plain_qemu, synced_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(make_sim, cluster_for):
    return synced_cluster(make_sim, cluster_for)


@pytest.fixture
def alice():
    return UserFactory(username="alice", roles=[Role.END_USER])


def _run(synced, request, **driver):
    execution = Driver([synced.sim], **driver).run(execution_begin(request))
    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    request.refresh_from_db()
    return execution


def _new_vm(synced, execution) -> VirtualMachine:
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    return VirtualMachine.objects.get(cluster=synced.cluster, vmid=vmid, gone_since__isnull=True)


def test_provision_from_a_template_is_owned_by_the_requester(synced, alice):
    template = VirtualMachine.objects.filter(cluster=synced.cluster, template=True).first()
    team = TeamFactory(name="Ops")
    request = approved_request(
        kind="provision",
        requester=alice,
        cluster=synced.cluster,
        source="clone",
        template=template.pk,
        node="alpha2",
        storage="ceph-rbd",
        name="web-7",
        cores=4,
        memory_mib=4096,
        disk_gib=16,
        team=team,
        classification="sensitive",
        lease_end=(timezone.localdate() + timedelta(days=90)).isoformat(),
    )

    execution = _run(synced, request, stride=30)

    vm = _new_vm(synced, execution)
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
    request = approved_request(
        kind="provision",
        requester=alice,
        cluster=synced.cluster,
        source="scratch",
        node="alpha3",
        storage="local-lvm",
        name="db-1",
        cores=2,
        memory_mib=2048,
        disk_gib=32,
    )

    execution = _run(synced, request)

    vm = _new_vm(synced, execution)
    guest = synced.sim.cluster.estate.guests[vm.vmid]
    assert guest.node == "alpha3"
    assert guest.config["scsi0"].startswith(f"local-lvm:vm-{vm.vmid}-disk-0")
    assert "size=32G" in guest.config["scsi0"]
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    assert steps_by_name(execution)["clone"].state == StepState.SKIPPED


def test_import_copies_the_image_onto_approved_storage_quarantined_and_owned(synced, alice):
    request = _image_import(synced, alice, "router", classification="internal")

    execution = _run(synced, request)

    vm = _new_vm(synced, execution)
    disk = synced.sim.cluster.estate.guests[vm.vmid].config["scsi0"]
    assert disk.startswith(f"local-lvm:vm-{vm.vmid}-disk-0")
    assert "size=2G" in disk
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    _runs_in_quarantine(synced, vm, execution)


def _image_import(synced, alice, name: str, **parameters):
    """A request to import the simulator's router image as VM ``name`` on alpha1."""
    return approved_request(
        kind="import",
        requester=alice,
        cluster=synced.cluster,
        source_volume="local:import/router-appliance.qcow2",
        name=name,
        node="alpha1",
        storage="local-lvm",
        **parameters,
    )


def _runs_in_quarantine(synced, vm, execution) -> None:
    """Started only after policy applied the quarantine and the engine read it back:
    Proxmox shows the guest running behind the quarantine group."""
    quarantine = Quarantine.objects.get(vm=vm, lifted_at__isnull=True)
    assert quarantine.applied_state == QuarantineState.VERIFIED
    guest = {"node": vm.node.name, "kind": "qemu", "vmid": vm.vmid}
    assert synced.gateway.guest_status(**guest).status == "running"
    rules = synced.gateway.guest_firewall_rules(**guest)
    assert (rules[0].type, rules[0].action) == ("group", quarantine_group())
    assert synced.gateway.guest_firewall_options(**guest).enabled
    steps = steps_by_name(execution)
    assert steps["quarantine_verify"].finished_at <= steps["start"].started_at
    assert steps["start"].upid.split(":")[5] == "qmstart"


def test_an_import_whose_quarantine_cannot_be_applied_is_never_started(synced, alice):
    """Policy gave up applying the quarantine (its remediation failed): the request fails
    at the check, with the guest stopped and the reason named."""
    request = _image_import(synced, alice, "router-2")
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="quarantine", state=StepState.DONE)
    quarantine = Quarantine.objects.get(vm__vmid=steps_by_name(execution)["reserve"].result["vmid"])
    Quarantine.objects.filter(pk=quarantine.pk).update(applied_state=QuarantineState.FAILED)

    execution = driver.run(execution)

    assert execution.state == ExecutionState.FAILED
    assert "could not be applied" in execution.error
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    assert synced.sim.cluster.estate.guests[vmid].status != "running"
    assert steps_by_name(execution)["start"].state == StepState.PENDING


def test_an_import_waits_for_its_quarantine_without_using_up_its_attempts(synced, alice):
    """Policy's remediation is backing off (a lock, say): the start waits for it, however
    long, instead of failing after the step's retry budget, and starts once it is done."""
    request = _image_import(synced, alice, "router-3")
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="quarantine", state=StepState.DONE)
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    applying = Remediation.objects.filter(vm__vmid=vmid, action=ActionKind.QUARANTINE_APPLY)
    applying.update(next_attempt_at=timezone.now() + timedelta(hours=1))

    for _ in range(MAX_STEP_ATTEMPTS * 2):
        driver.tick(driver.step(execution) or 0)
    step = steps_by_name(execution)["quarantine_verify"]
    assert step.state == StepState.PENDING
    assert step.attempts == 0
    assert "waiting for policy to apply the quarantine" in step.log
    assert synced.sim.cluster.estate.guests[vmid].status != "running"

    applying.update(next_attempt_at=None)
    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    _runs_in_quarantine(synced, _new_vm(synced, execution), execution)


def test_export_is_recorded_and_deleted_when_it_expires(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    request = approved_request(
        kind="export", requester=alice, vm=vm, storage="nfs-iso", available_days=7
    )

    execution = _run(synced, request, stride=30)

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

    execution = _run(synced, request, stride=30)

    new = _new_vm(synced, execution)
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

    execution = _run(synced, request)

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

    _run(synced, request)

    grant = AccessGrant.objects.get(request=request)
    assert grant.state == GrantState.ACTIVE
    assert any(a.path == f"/vms/{vm.vmid}" and a.ugid == "alice@pve" for a in synced.gateway.acl())


@pytest.mark.parametrize(("name", "outcome"), [("intruder", "failed"), ("db-2", "succeeded")])
def test_a_reserved_vmid_found_taken_is_ours_only_with_our_name(synced, alice, name, outcome):
    """Taken by someone else: the request fails clearly. Taken by an earlier attempt of
    this step (same name: its UPID was lost): it counts as created, nothing is made twice."""
    request = approved_request(
        kind="provision",
        requester=alice,
        cluster=synced.cluster,
        source="scratch",
        node="alpha2",
        storage="local-lvm",
        name="db-2",
        cores=1,
        memory_mib=1024,
        disk_gib=8,
    )
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


def _remote_import(make_sim, cluster_for, synced, alice):
    """A second cluster, a stopped guest on it, and the request to import that guest."""
    other = synced_cluster(make_sim, cluster_for, seed=2)
    source = other.guest(lambda g: plain_qemu(g) and not g.running and not g.lock)
    request = approved_request(
        kind="import",
        requester=alice,
        cluster=synced.cluster,
        source_cluster=other.cluster.name,
        source_vmid=source.vmid,
        name=source.name,
        storage="local-lvm",
    )
    return other, source, request


def test_import_of_a_guest_from_another_cluster_copies_it_in_quarantined(
    make_sim, cluster_for, synced, alice
):
    other, source, request = _remote_import(make_sim, cluster_for, synced, alice)

    execution = Driver([synced.sim, other.sim], stride=120).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["create"].state == StepState.SKIPPED
    # The copy is followed on the source cluster, its receiving end on this one.
    assert steps["copy_in"].upid.split(":")[5] == "qmigrate"
    assert steps["copy_in"].task_cluster == other.cluster
    assert steps["copy_in"].upid.split(":")[1] in other.sim.cluster.estate.nodes
    assert steps["receive"].upid.split(":")[5] == "qmtunnel"
    assert steps["receive"].task_cluster == synced.cluster
    vm = _new_vm(synced, execution)
    assert synced.sim.cluster.estate.guests[vm.vmid].config["scsi0"].startswith("local-lvm:")
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    _runs_in_quarantine(synced, vm, execution)
    assert source.vmid in other.sim.cluster.estate.guests  # the source cluster keeps it


def test_a_worker_lost_during_a_cross_cluster_copy_resumes_on_the_source_cluster(
    make_sim, cluster_for, synced, alice
):
    """The worker died between the source cluster's answer and recording the UPID: the
    restarted engine finds the copy task on the source cluster (not the request's),
    adopts it, polls it there, and never starts a second copy."""
    from governance.approvals.execution import proxmox

    other, source, request = _remote_import(make_sim, cluster_for, synced, alice)
    execution = execution_begin(request)
    driver = Driver([synced.sim, other.sim], stride=120)
    driver.run_until(execution, step="create", state=StepState.SKIPPED)
    # What the dead worker left: the step claimed (lease run out), the copy started.
    left_by_dead_worker(execution, step="copy_in", now=driver.now)
    other_gw = ProxmoxGateway(cluster_endpoint(other.cluster))
    upid = other_gw.guest_remote_migrate(
        node=source.node,
        kind="qemu",
        vmid=source.vmid,
        target=cluster_endpoint(synced.cluster),
        target_vmid=steps_by_name(execution)["reserve"].result["vmid"],
        target_storage="local-lvm",
        target_bridge="1",
    )
    proxmox._GATEWAYS.clear()  # a new worker process: no cached clients

    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    copy_in = steps_by_name(execution)["copy_in"]
    assert copy_in.upid == upid
    assert copy_in.task_cluster == other.cluster
    copies = [t for t in other_gw.tasks() if t.type == "qmigrate" and t.id == str(source.vmid)]
    assert [t.upid for t in copies] == [upid]
    assert "adopted" in copy_in.log
