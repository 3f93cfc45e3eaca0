"""The step runner against pvesim: snapshot deletion and ownership transfer end to end,
a worker that dies after starting a Proxmox task (the task is adopted, never started
twice), a step another worker holds, stale messages, failure, admin retry and resume."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from governance.approvals.execution import runner
from governance.approvals.execution.base import StepContext
from governance.approvals.models import (
    ExecutionState,
    Request,
    RequestState,
    StepState,
)
from governance.approvals.services.executions import (
    execution_cancel,
    execution_retry,
    request_approved,
)
from governance.ownership.services import ownership_assign, ownership_current
from inventory.models import Copy, CopyKind
from tests.factories import UserFactory
from tests.policy.enforce.helpers import plain_qemu

pytestmark = pytest.mark.django_db(transaction=True)


def _snapshotted(synced, name: str = "s1"):
    """A stopped QEMU guest with snapshot ``name``, synced so the copy ledger has it."""
    guest = next(
        g
        for g in synced.sim.cluster.estate.guests.values()
        if plain_qemu(g) and not g.running and not g.lock
    )
    response = synced.sim.api(
        "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/snapshot", data={"snapname": name}
    )
    assert response.status_code == 200, response.text
    synced.sim.advance(120)
    synced.sync()
    return synced.vm(guest.vmid)


def _executing(kind: str, vm, requester=None, **parameters):
    """An approved request whose execution the services started."""
    from django.db import transaction

    now = timezone.now()
    with transaction.atomic():
        request = Request.objects.create(
            kind=kind,
            requester=requester or UserFactory(),
            vm=vm,
            cluster=vm.cluster,
            parameters=parameters,
            idempotency_key=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
        )
        execution = request_approved(request, actor=None, now=now, message="test")
    return request, execution


class Clock:
    """Moves the engine's ``now`` and the simulator's clock together (nothing sleeps)."""

    def __init__(self, synced):
        self.synced, self.now, self.advances = synced, timezone.now(), 0

    def tick(self, seconds: float) -> None:
        seconds = max(seconds, 1.0)
        self.synced.sim.advance(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, execution, **kwargs):
        self.advances += 1
        return runner.execution_advance(execution_id=execution.pk, now=self.now, **kwargs)

    def run(self, execution, limit: int = 60):
        for _ in range(limit):
            again = self.advance(execution).again_in
            if again is None:
                execution.refresh_from_db()
                return execution
            if again:
                self.tick(again)
        raise AssertionError("the execution did not end")


def _deletes(synced, vmid: int) -> list:
    return [t for t in synced.gateway.tasks() if t.type == "qmdelsnapshot" and t.id == str(vmid)]


def test_a_snapshot_delete_runs_polls_and_closes_the_ledger(synced):
    vm = _snapshotted(synced)
    assert Copy.objects.filter(vm=vm, kind=CopyKind.SNAPSHOT, deleted_at__isnull=True).count() == 1
    request, execution = _executing("snapshot_delete", vm, snapshot="s1")

    execution = Clock(synced).run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED
    delete, ledger = execution.steps.order_by("position")
    assert delete.state == StepState.DONE
    assert delete.upid
    assert delete.log_offset > 0  # the task log was copied
    assert ledger.state == StepState.DONE
    assert not Copy.objects.filter(vm=vm, kind=CopyKind.SNAPSHOT, deleted_at__isnull=True).exists()
    assert len(_deletes(synced, vm.vmid)) == 1
    events = list(request.events.values_list("kind", flat=True))
    assert "task" in events
    assert events[-1] == "state"


def test_a_worker_killed_after_starting_the_task_is_recovered_without_a_second_delete(synced):
    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    clock = Clock(synced)
    # The worker claims the step and starts the delete, then dies before recording the UPID.
    work, _ = runner._claim(execution.pk, None, clock.now, runner.default_gateway)
    assert work is not None
    assert work.action == "run"
    step = execution.steps.get(position=0)
    spec = runner._spec(execution, step)
    spec.run(runner._context(execution, step, runner.default_gateway))
    assert len(_deletes(synced, vm.vmid)) == 1

    # Another worker, within the lease: it must not touch the step.
    assert clock.advance(execution).again_in == pytest.approx(
        runner.STEP_LEASE.total_seconds(), abs=1
    )
    step.refresh_from_db()
    assert step.state == StepState.RUNNING
    assert not step.upid

    # After the lease: the task is found in Proxmox's history and adopted.
    clock.tick(runner.STEP_LEASE.total_seconds() + 1)
    execution = clock.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    step.refresh_from_db()
    assert "adopted task" in step.log
    assert step.attempts == 1
    assert len(_deletes(synced, vm.vmid)) == 1


def test_a_late_result_from_a_worker_that_lost_its_step_is_discarded(synced):
    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    clock = Clock(synced)
    work, _ = runner._claim(execution.pk, None, clock.now, runner.default_gateway)
    clock.tick(runner.STEP_LEASE.total_seconds() + 1)
    clock.advance(execution)  # another worker takes the step over (a new claim token)
    from governance.approvals.execution.base import StepResult

    late = runner._record(work, StepResult.failed("too late"), [], clock.now)
    assert late.again_in is None
    execution.refresh_from_db()
    assert execution.state == ExecutionState.RUNNING


def test_a_stale_message_is_dropped(synced):
    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    execution.refresh_from_db()
    first = runner.ticket_of(execution)
    fresh = runner.execution_reschedule(execution_id=execution.pk, now=timezone.now())
    assert fresh.ticket != first
    assert runner.execution_advance(execution_id=execution.pk, ticket=first).again_in is None
    assert execution.steps.get(position=0).state == StepState.PENDING
    assert runner.execution_advance(execution_id=execution.pk, ticket=fresh.ticket).again_in


def test_a_failed_step_fails_the_request_and_an_admin_retries_it(synced):
    vm = _snapshotted(synced)
    request, execution = _executing("snapshot_delete", vm, snapshot="s1")
    clock = Clock(synced)
    synced.sim.control("POST", "task/fail-next", type="qmdelsnapshot")
    execution = clock.run(execution)
    assert execution.state == ExecutionState.FAILED
    request.refresh_from_db()
    assert request.state == RequestState.FAILED
    assert "failed" in execution.error

    with pytest.raises(PermissionDenied):
        execution_retry(actor=request.requester, execution=execution)
    admin = UserFactory(roles=["admin"])
    execution_retry(actor=admin, execution=execution)
    execution = clock.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    assert execution.attempts == 2
    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED
    assert [t.status for t in _deletes(synced, vm.vmid)].count("OK") == 1


def test_an_admin_cancels_a_failed_execution(synced):
    vm = _snapshotted(synced)
    request, execution = _executing("snapshot_delete", vm, snapshot="s1")
    synced.sim.control("POST", "task/fail-next", type="qmdelsnapshot")
    execution = Clock(synced).run(execution)
    assert execution.state == ExecutionState.FAILED

    execution_cancel(
        actor=UserFactory(roles=["admin"]), execution=execution, reason="node under repair"
    )

    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    execution.refresh_from_db()
    assert execution.state == ExecutionState.CANCELLED
    assert runner.execution_advance(execution_id=execution.pk).again_in is None
    assert len(_deletes(synced, vm.vmid)) == 1


def test_an_ownership_transfer_happens_once(synced):
    vm = synced.vm(next(iter(synced.sim.cluster.estate.guests)))
    alice, bob = UserFactory(), UserFactory()
    ownership_assign(actor=UserFactory(roles=["admin"]), vm=vm, owner=alice, reason="test")
    _request, execution = _executing("ownership_transfer", vm, requester=alice, owner=bob.pk)
    clock = Clock(synced)

    execution = clock.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    assert ownership_current(vm_id=vm.pk).owner == bob
    rows = vm.ownerships.count()
    assert clock.advance(execution).again_in is None  # nothing left to do
    assert vm.ownerships.count() == rows


def test_overdue_executions_are_resumed(synced):
    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    later = timezone.now() + timedelta(minutes=5)
    assert runner.executions_due(now=later) == [execution.pk]
    assert runner.executions_due(now=timezone.now() - timedelta(minutes=5)) == []


def test_step_context_exposes_earlier_results(synced):
    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    first, second = execution.steps.order_by("position")
    first.result = {"vmid": 4242}
    first.save()
    ctx = runner._context(execution, second, runner.default_gateway)
    assert isinstance(ctx, StepContext)
    assert ctx.results == {"vmid": 4242}
    assert ctx.vm_target()["vmid"] == vm.vmid


def test_a_timeout_that_hid_a_started_task_does_not_start_a_second_one(synced, monkeypatch):
    from inventory.proxmox import ProxmoxGateway, ProxmoxTimeout

    vm = _snapshotted(synced)
    _, execution = _executing("snapshot_delete", vm, snapshot="s1")
    original = ProxmoxGateway.snapshot_delete

    def started_then_timed_out(self, **kwargs):
        original(self, **kwargs)
        raise ProxmoxTimeout("read timed out")

    monkeypatch.setattr(ProxmoxGateway, "snapshot_delete", started_then_timed_out)
    clock = Clock(synced)
    first = clock.advance(execution)
    step = execution.steps.get(position=0)
    assert step.state == StepState.PENDING  # a transient error: retried later
    clock.tick(first.again_in)

    execution = clock.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    step.refresh_from_db()
    assert "adopted task" in step.log
    assert len(_deletes(synced, vm.vmid)) == 1
