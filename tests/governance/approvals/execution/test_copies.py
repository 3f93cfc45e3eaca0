"""Copies against pvesim: an export copied to another registered cluster (a full clone of
the VM moved there, the VM kept running and unlocked, the temporary clone gone from its
cluster, the copy owned by the requester there, the ledger row, and the expiry that stops,
destroys and closes, or closes without harm when the copy is gone or renamed; a worker
killed during the clone or the move adopts its task; a failed clone leaves nothing), and
a clone made a template."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.execution.kinds.export import exports_expire
from governance.approvals.execution.kinds.export_copy import clone_name, clone_storage_for
from governance.approvals.models import ExecutionState, StepState
from governance.approvals.services.executions import execution_cancel
from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_assign
from inventory.models import Copy, CopyKind, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from inventory.services.clusters import cluster_endpoint
from tests.factories import UserFactory
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
def other(make_sim, cluster_for):
    return synced_cluster(make_sim, cluster_for, seed=2)


@pytest.fixture
def alice():
    return UserFactory(username="alice", roles=[Role.END_USER])


def _approve(cluster, name: str) -> None:
    Storage.objects.filter(cluster=cluster, name=name).update(storage_class=StorageClass.APPROVED)


def _export_request(synced, other, alice, *, running: bool = True, node: str = "", ha=False):
    """An approved export copy of a plain guest (sensitive, owned by alice; put under HA
    first with ``ha``); the source's disk storage (ceph-rbd) is approved, so the
    temporary clone goes there."""
    estate = synced.sim.cluster.estate

    def wanted(g):
        in_ha = estate.ha_resource(g) is not None
        return plain_qemu(g) and g.running is running and not g.lock and not in_ha

    guest = synced.guest(wanted)
    if ha:
        answer = synced.sim.api(
            "POST", "/cluster/ha/resources", data={"sid": f"vm:{guest.vmid}", "state": "started"}
        )
        assert answer.ok, answer.text
        synced.sync()
    vm = synced.vm(guest.vmid)
    ownership_assign(actor=None, vm=vm, owner=alice, reason="test")
    VirtualMachine.objects.filter(pk=vm.pk).update(classification="sensitive")
    _approve(synced.cluster, "ceph-rbd")
    _approve(other.cluster, "local-lvm")
    request = approved_request(
        kind="export",
        requester=alice,
        vm=vm,
        method="cluster",
        target_cluster=other.cluster.name,
        target_node=node or next(iter(other.sim.cluster.estate.nodes)),
        target_storage="local-lvm",
        available_days=7,
    )
    return guest, vm, request


def _exported(synced, other, alice, *, running: bool = True, node: str = "", ha=False):
    guest, vm, request = _export_request(synced, other, alice, running=running, node=node, ha=ha)
    execution = Driver([synced.sim, other.sim], stride=120).run(execution_begin(request))
    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    return guest, vm, steps_by_name(execution)


def _tasks(synced, vmid: int, *types: str) -> list[str]:
    return [t.upid for t in synced.gateway.tasks() if t.type in types and t.id == str(vmid)]


def _actions(request_id: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(request_id), action__startswith="approvals.export")
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def test_an_export_copy_keeps_the_running_source_and_lands_owned_and_recorded(synced, other, alice):
    # Not the node PVE puts a remote migration on (the first online one): moved there.
    # The source is HA-managed: only its clone moves, so that does not matter.
    nodes = [n.name for n in other.sim.cluster.estate.nodes.values() if n.online]
    guest, vm, steps = _exported(synced, other, alice, node=nodes[-1], ha=True)

    assert steps["backup"].state == StepState.SKIPPED
    # The source keeps running, never stopped nor locked, and is still HA-managed.
    kept = synced.sim.cluster.estate.guests[guest.vmid]
    assert kept.running
    assert "lock" not in kept.config
    assert synced.sim.cluster.estate.ha_resource(kept) is not None
    assert VirtualMachine.objects.get(pk=vm.pk).gone_since is None
    # One full clone of it, onto the approved storage its disk is on, moved away with
    # one migration that deleted it from the source cluster.
    clone_vmid = steps["clone_reserve"].result["clone_vmid"]
    assert _tasks(synced, guest.vmid, "qmclone") == [steps["clone"].upid]
    assert _tasks(synced, guest.vmid, "qmigrate") == []
    assert _tasks(synced, clone_vmid, "qmigrate") == [steps["copy"].upid]
    assert clone_vmid not in synced.sim.cluster.estate.guests
    name = clone_name(steps["ledger"].execution.request_id, guest.vmid)
    assert name not in {g.name for g in synced.sim.cluster.estate.guests.values()}
    assert not VirtualMachine.objects.filter(
        cluster=synced.cluster, vmid=clone_vmid, gone_since__isnull=True
    ).exists()
    # The copy: on the wanted node of the other cluster, on its storage, stopped.
    vmid = steps["copy_reserve"].result["target_vmid"]
    copied = other.sim.cluster.estate.guests[vmid]
    assert copied.config["scsi0"].startswith(f"local-lvm:vm-{vmid}-disk-0")
    assert copied.config["name"] == name
    assert "lock" not in copied.config
    assert not copied.running
    assert copied.node == nodes[-1]
    assert steps["copy_place"].upid.split(":")[1] == nodes[0]
    row = VirtualMachine.objects.get(cluster=other.cluster, vmid=vmid, gone_since__isnull=True)
    ownership = Ownership.objects.get(vm=row, until__isnull=True)
    assert ownership.owner == alice
    assert ownership.lease_end == timezone.localdate() + timedelta(days=7)
    assert row.classification == "sensitive"
    # The ledger row on the source VM, which the request's expiry acts on.
    export = Copy.objects.get(kind=CopyKind.EXPORT, vm=vm, deleted_at__isnull=True)
    assert export.name == f"{other.cluster.name}/{vmid}"
    assert (export.storage_name, export.storage_class) == ("local-lvm", "approved")
    assert export.node == nodes[-1]
    assert export.task_upid == steps["copy"].upid
    assert steps["ledger"].result["target_cluster_id"] == other.cluster.pk
    expires = timezone.now() + timedelta(days=7)
    recorded = steps["ledger"].result["expires_at"]
    assert abs((datetime.fromisoformat(recorded) - expires).total_seconds()) < 3600


def test_the_clone_goes_to_approved_storage_of_the_source_cluster(synced):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.lock)
    vm = synced.vm(guest.vmid)
    # Its disk is on ceph-rbd: nothing approved, then another approved storage of its
    # node, then its own storage once that is approved.
    assert clone_storage_for(vm) is None
    _approve(synced.cluster, "local-lvm")
    assert clone_storage_for(vm) == "local-lvm"
    _approve(synced.cluster, "ceph-rbd")
    assert clone_storage_for(vm) == "ceph-rbd"


def test_expiry_stops_then_destroys_a_live_copy_and_closes_the_row(synced, other, alice):
    _, vm, steps = _exported(synced, other, alice)
    vmid = steps["copy_reserve"].result["target_vmid"]
    # The copy arrives stopped; its new owner started it.
    copied = other.sim.cluster.estate.guests[vmid]
    other.gateway.guest_start(node=copied.node, kind="qemu", vmid=vmid)
    other.sim.advance(30)
    assert other.sim.cluster.estate.guests[vmid].running
    export = Copy.objects.get(kind=CopyKind.EXPORT, vm=vm, deleted_at__isnull=True)
    later = timezone.now() + timedelta(days=7, minutes=1)

    assert exports_expire(now=timezone.now() + timedelta(days=6)) == 0
    assert exports_expire(now=later) == 0  # stop
    other.sim.advance(60)
    assert not other.sim.cluster.estate.guests[vmid].running
    assert exports_expire(now=later) == 0  # destroy
    other.sim.advance(60)
    assert vmid not in other.sim.cluster.estate.guests
    assert exports_expire(now=later) == 1  # close
    export.refresh_from_db()
    assert export.deleted_at is not None
    assert exports_expire(now=later) == 0
    request_id = steps["ledger"].execution.request_id
    assert _actions(request_id) == [
        "approvals.export_copy_stop",
        "approvals.export_copy_destroy",
        "approvals.export_expired",
    ]


def test_expiry_of_a_copy_already_gone_or_renamed_closes_the_row_without_harm(synced, other, alice):
    _, vm, steps = _exported(synced, other, alice, running=False)
    vmid = steps["copy_reserve"].result["target_vmid"]
    later = timezone.now() + timedelta(days=8)
    # Renamed by someone: no longer recognisably the export, so it stays.
    copied = other.sim.cluster.estate.guests[vmid]
    other.sim.api("PUT", f"/nodes/{copied.node}/qemu/{vmid}/config", data={"name": "kept-by-bob"})

    assert exports_expire(now=later) == 1
    assert vmid in other.sim.cluster.estate.guests
    assert not Copy.objects.filter(kind=CopyKind.EXPORT, vm=vm, deleted_at__isnull=True).exists()
    request_id = steps["ledger"].execution.request_id
    assert _actions(request_id) == ["approvals.export_expired"]
    event = AuditEvent.objects.get(target_id=str(request_id), action="approvals.export_expired")
    assert event.after["outcome"] == "left alone: renamed to kept-by-bob"


def test_expiry_of_a_copy_deleted_by_hand_closes_the_row(synced, other, alice):
    _, vm, steps = _exported(synced, other, alice, running=False)
    vmid = steps["copy_reserve"].result["target_vmid"]
    copied = other.sim.cluster.estate.guests[vmid]
    other.sim.api("DELETE", f"/nodes/{copied.node}/qemu/{vmid}")
    other.sim.advance(60)

    assert exports_expire(now=timezone.now() + timedelta(days=8)) == 1
    export = Copy.objects.get(kind=CopyKind.EXPORT, vm=vm)
    assert export.deleted_at is not None
    event = AuditEvent.objects.get(
        target_id=str(steps["ledger"].execution.request_id), action="approvals.export_expired"
    )
    assert event.after["outcome"] == "gone"


def test_a_worker_killed_after_starting_the_clone_does_not_start_a_second(synced, other, alice):
    """The worker died between Proxmox's answer and recording the UPID: the engine adopts
    the running clone task instead of cloning again."""
    guest, vm, request = _export_request(synced, other, alice)
    execution = execution_begin(request)
    driver = Driver([synced.sim, other.sim], stride=1)
    driver.run_until(execution, step="clone_reserve", state=StepState.DONE)
    left_by_dead_worker(execution, step="clone", now=driver.now)
    clone_vmid = steps_by_name(execution)["clone_reserve"].result["clone_vmid"]
    upid = synced.gateway.guest_clone(
        node=guest.node,
        kind="qemu",
        vmid=guest.vmid,
        newid=clone_vmid,
        name=clone_name(request.pk, guest.vmid),
        target=guest.node,
        full=True,
        storage="ceph-rbd",
    )

    driver.stride = 120
    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    assert steps_by_name(execution)["clone"].upid == upid
    assert _tasks(synced, guest.vmid, "qmclone") == [upid]
    assert len(_tasks(synced, clone_vmid, "qmigrate")) == 1
    assert clone_vmid not in synced.sim.cluster.estate.guests
    assert Copy.objects.filter(kind=CopyKind.EXPORT, vm=vm, deleted_at__isnull=True).count() == 1


def test_a_worker_killed_after_starting_the_move_does_not_start_a_second(synced, other, alice):
    """Same for the remote migration of the clone: adopted, not started again."""
    guest, vm, request = _export_request(synced, other, alice)
    execution = execution_begin(request)
    driver = Driver([synced.sim, other.sim], stride=120)
    driver.run_until(execution, step="clone", state=StepState.DONE)
    left_by_dead_worker(execution, step="copy", now=driver.now)
    results = {}
    for step in execution.steps.all():
        results.update(step.result)
    upid = synced.gateway.guest_remote_migrate(
        node=guest.node,
        kind="qemu",
        vmid=results["clone_vmid"],
        target=cluster_endpoint(other.cluster),
        target_vmid=results["target_vmid"],
        target_storage="local-lvm",
        target_bridge="1",
        delete=True,
    )

    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    assert steps_by_name(execution)["copy"].upid == upid
    assert _tasks(synced, results["clone_vmid"], "qmigrate") == [upid]
    assert _tasks(synced, guest.vmid, "qmclone", "qmigrate") == [
        steps_by_name(execution)["clone"].upid
    ]
    assert results["target_vmid"] in other.sim.cluster.estate.guests
    assert Copy.objects.filter(kind=CopyKind.EXPORT, vm=vm, deleted_at__isnull=True).count() == 1


def _failed_at(synced, other, alice, task_type: str):
    """An export whose first ``task_type`` task on the source cluster fails."""
    guest, vm, request = _export_request(synced, other, alice)
    synced.sim.control("POST", "task/fail-next", type=task_type, message="simulated failure")
    execution = Driver([synced.sim, other.sim], stride=120).run(execution_begin(request))
    assert execution.state == ExecutionState.FAILED
    return guest, vm, request, execution


def test_a_failed_clone_leaves_nothing_behind(synced, other, alice):
    guest, vm, request, execution = _failed_at(synced, other, alice, "qmclone")

    steps = steps_by_name(execution)
    assert steps["clone"].state == StepState.FAILED
    assert steps["copy"].state == StepState.PENDING
    clone_vmid = steps["clone_reserve"].result["clone_vmid"]
    assert clone_vmid not in synced.sim.cluster.estate.guests
    name = clone_name(request.pk, guest.vmid)
    assert name not in {g.name for g in synced.sim.cluster.estate.guests.values()}
    assert steps["copy_reserve"].result["target_vmid"] not in other.sim.cluster.estate.guests
    kept = synced.sim.cluster.estate.guests[guest.vmid]
    assert kept.running
    assert "lock" not in kept.config
    assert not Copy.objects.filter(kind=CopyKind.EXPORT, vm=vm).exists()


def test_a_clone_left_by_a_failed_move_is_kept_for_a_retry_and_removed_on_cancel(
    synced, other, alice
):
    guest, vm, request, execution = _failed_at(synced, other, alice, "qmigrate")
    steps = steps_by_name(execution)
    assert steps["copy"].state == StepState.FAILED
    clone_vmid = steps["clone_reserve"].result["clone_vmid"]
    left = synced.sim.cluster.estate.guests[clone_vmid]
    assert (left.running, left.config.get("lock")) == (False, None)
    assert steps["copy_reserve"].result["target_vmid"] not in other.sim.cluster.estate.guests

    # Failed at the move: an admin may retry it, so the beat keeps the clone.
    assert exports_expire() == 0
    synced.sim.advance(60)
    assert clone_vmid in synced.sim.cluster.estate.guests
    # Cancelled: the beat destroys it, audited on the request, and then leaves it be.
    execution_cancel(actor=UserFactory(roles=[Role.ADMIN]), execution=execution, reason="no")
    assert exports_expire() == 0
    synced.sim.advance(60)
    assert clone_vmid not in synced.sim.cluster.estate.guests
    assert exports_expire() == 0
    assert _actions(request.pk) == ["approvals.export_clone_destroy"]
    kept = synced.sim.cluster.estate.guests[guest.vmid]
    assert kept.running
    assert "lock" not in kept.config
    assert not Copy.objects.filter(kind=CopyKind.EXPORT, vm=vm).exists()


def test_a_clone_made_a_template_is_a_template_in_proxmox(synced, alice):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running and not g.lock)
    vm = synced.vm(guest.vmid)
    request = approved_request(
        kind="clone",
        requester=alice,
        vm=vm,
        name="golden-1",
        target_node=guest.node,
        full=True,
        template=True,
    )

    execution = Driver([synced.sim], stride=30).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["template"].upid.split(":")[5] == "qmtemplate"
    vmid = steps["reserve"].result["vmid"]
    config = synced.gateway.guest_config(node=guest.node, kind="qemu", vmid=vmid)
    assert str(config.values["template"]) == "1"
    row = VirtualMachine.objects.get(cluster=synced.cluster, vmid=vmid, gone_since__isnull=True)
    assert row.template
    assert Ownership.objects.get(vm=row, until__isnull=True).owner == alice
