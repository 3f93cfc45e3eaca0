"""Migration requests against pvesim: a node move updates the residency ledger with the
request; a target node that goes down mid-task fails the request with the guest and the
ledgers where they were and no second migration; a cross-cluster move keeps the owner."""

from __future__ import annotations

import pytest

from governance.approvals.models import ExecutionState, RequestState, StepState
from governance.ownership.services import ownership_assign
from inventory.models import Residency, VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from tests.factories import UserFactory
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_request,
    execution_begin,
    left_by_dead_worker,
    migrations,
    movable,
    steps_by_name,
)
from tests.policy.enforce.helpers import synced_cluster

pytestmark = pytest.mark.django_db


def test_a_migration_moves_the_guest_and_the_residency_names_the_request(synced):
    vm, target = movable(synced)
    request = approved_request(
        kind="migrate", requester=UserFactory(), vm=vm, target_node=target, online=True
    )

    execution = Driver([synced.sim]).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED
    assert synced.sim.cluster.estate.guests[vm.vmid].node == target
    vm.refresh_from_db()
    assert vm.node.name == target
    current = Residency.objects.get(vm=vm, ended_at__isnull=True)
    assert current.node.name == target
    assert current.approving_request_id == request.pk
    assert Residency.objects.filter(vm=vm, ended_at__isnull=False).exists()
    steps = steps_by_name(execution)
    assert steps["migrate"].upid
    assert "migration finished successfully" in steps["migrate"].log
    assert steps["remote_migrate"].state == StepState.SKIPPED
    assert len(migrations(synced, vm.vmid)) == 1


def test_target_node_down_mid_migration_fails_the_request_and_keeps_the_ledgers(synced):
    vm, target = movable(synced)
    source = vm.node.name
    residencies = list(Residency.objects.filter(vm=vm).values_list("pk", "node__name", "ended_at"))
    request = approved_request(
        kind="migrate", requester=UserFactory(), vm=vm, target_node=target, online=True
    )
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="migrate", state=StepState.WAITING_TASK)

    synced.sim.control("POST", "node/down", node=target)
    execution = driver.run(execution)

    assert execution.state == ExecutionState.FAILED
    assert "aborted" in execution.error or "migration" in execution.error
    request.refresh_from_db()
    assert request.state == RequestState.FAILED
    steps = steps_by_name(execution)
    assert steps["migrate"].state == StepState.FAILED
    assert steps["sync"].state == StepState.PENDING
    assert synced.sim.cluster.estate.guests[vm.vmid].node == source
    synced.sync()
    vm.refresh_from_db()
    assert vm.node.name == source
    after = list(Residency.objects.filter(vm=vm).values_list("pk", "node__name", "ended_at"))
    assert after == residencies
    assert len(migrations(synced, vm.vmid)) == 1
    # Nothing runs again by itself: the failed step waits for an admin.
    assert driver.step(execution) is None
    assert len(migrations(synced, vm.vmid)) == 1


def test_a_node_proxmox_does_not_offer_fails_before_any_task(synced):
    vm, _ = movable(synced)
    request = approved_request(
        kind="migrate", requester=UserFactory(), vm=vm, target_node="nowhere", online=True
    )
    execution = Driver([synced.sim]).run(execution_begin(request))
    assert execution.state == ExecutionState.FAILED
    assert "does not allow a move to nowhere" in execution.error
    assert not migrations(synced, vm.vmid)


def test_a_cross_cluster_move_carries_the_owner_over(make_sim, cluster_for, synced):
    other = synced_cluster(make_sim, cluster_for, seed=2)
    vm, _ = movable(synced, running=False)
    owner = UserFactory(username="alice")
    ownership_assign(actor=None, vm=vm, owner=owner, reason="test")
    request = approved_request(
        kind="migrate",
        requester=owner,
        vm=vm,
        target_node=next(iter(other.sim.cluster.estate.nodes)),
        target_cluster=other.cluster.name,
        target_storage="local-lvm",
        online=False,
    )

    execution = Driver([synced.sim, other.sim], stride=120).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["migrate"].state == StepState.SKIPPED
    new_vmid = steps["remote_reserve"].result["target_vmid"]
    moved = VirtualMachine.objects.get(
        cluster=other.cluster, vmid=new_vmid, gone_since__isnull=True
    )
    assert moved.ownerships.get(until__isnull=True).owner == owner
    assert vm.vmid not in synced.sim.cluster.estate.guests  # the move deleted the source
    target_gw = ProxmoxGateway(cluster_endpoint(other.cluster))
    assert any(g.vmid == new_vmid for g in target_gw.resources().guests)
    # The execution itself retired the old row (no later sync needed): it was gone, its
    # residency closed, before the new row appeared, so no list shows the guest twice.
    vm.refresh_from_db()
    assert vm.gone_since is not None
    assert vm.gone_since <= moved.first_seen
    assert not Residency.objects.filter(vm=vm, ended_at__isnull=True).exists()
    live = VirtualMachine.objects.filter(name=vm.name, gone_since__isnull=True)
    assert list(live) == [moved]
    assert steps["remote_migrate"].task_cluster == synced.cluster


def test_a_worker_killed_after_starting_the_migration_does_not_start_a_second(synced):
    """The worker died between Proxmox's answer and recording the UPID: the engine finds
    the running task and adopts it instead of migrating again."""
    vm, target = movable(synced)
    request = approved_request(
        kind="migrate", requester=UserFactory(), vm=vm, target_node=target, online=True
    )
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="precheck", state=StepState.DONE)
    # What the dead worker left: the step claimed (lease run out), the task started.
    left_by_dead_worker(execution, step="migrate", now=driver.now)
    upid = synced.gateway.guest_migrate(
        node=vm.node.name,
        kind="qemu",
        vmid=vm.vmid,
        target=target,
        online=True,
        with_local_disks=bool(steps_by_name(execution)["precheck"].result["with_local_disks"]),
    )

    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    assert steps_by_name(execution)["migrate"].upid == upid
    assert [t.upid for t in migrations(synced, vm.vmid)] == [upid]
    vm.refresh_from_db()
    assert vm.node.name == target
