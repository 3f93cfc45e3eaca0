"""Approved requests and a driver that runs their executions against pvesim, moving the
simulator's clock and the engine's ``now`` together (nothing sleeps)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.approvals.execution.base import steps_of
from governance.approvals.execution.runner import execution_advance
from governance.approvals.models import (
    Execution,
    ExecutionStep,
    Request,
    RequestState,
    StepState,
)
from pvesim.testing import RunningSim
from tests.policy.enforce.helpers import Synced, plain_qemu


def approved_request(
    *,
    kind: str,
    requester: Any,
    vm: Any = None,
    cluster: Any = None,
    team: Any = None,
    **parameters: Any,
) -> Request:
    """An approved request (chains and decisions are tested elsewhere)."""
    now = timezone.now()
    return Request.objects.create(
        kind=kind,
        requester=requester,
        vm=vm,
        cluster=cluster or (vm.cluster if vm is not None else None),
        team=team,
        parameters=parameters,
        justification="needed for the test",
        state=RequestState.APPROVED,
        idempotency_key=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
        decided_at=now,
    )


def approved_provision(
    synced: Synced,
    requester: Any,
    *,
    name: str,
    size: tuple[int, int, int],
    template: Any = None,
    **parameters: Any,
) -> Request:
    """An approved provision of ``name`` on ``synced``'s cluster, ``size`` being (cores, MiB
    of memory, GiB of disk): a clone of ``template`` (its inventory row) onto alpha2's Ceph
    pool, or from scratch onto alpha3's local LVM; ``parameters`` add or override."""
    cores, memory_mib, disk_gib = size
    if template is None:
        source = {"source": "scratch", "node": "alpha3", "storage": "local-lvm"}
    else:
        source = {
            "source": "clone",
            "template": template.pk,
            "node": "alpha2",
            "storage": "ceph-rbd",
        }
    sized = {"name": name, "cores": cores, "memory_mib": memory_mib, "disk_gib": disk_gib}
    return approved_request(
        kind="provision",
        requester=requester,
        cluster=synced.cluster,
        **{**source, **sized, **parameters},
    )


def execution_begin(request: Request) -> Execution:
    """The execution rows the engine starts from: one pending step per declared step."""
    now = timezone.now()
    with transaction.atomic():
        Request.objects.filter(pk=request.pk).update(state=RequestState.EXECUTING)
        execution = Execution.objects.create(request=request, started_at=now, next_run_at=now)
        ExecutionStep.objects.bulk_create(
            ExecutionStep(execution=execution, position=i, name=spec.name, label=spec.label)
            for i, spec in enumerate(steps_of(request.kind))
        )
    return execution


@dataclass
class Driver:
    """Advances executions; every engine countdown also moves the simulated clock."""

    sims: list[RunningSim]
    now: datetime = field(default_factory=timezone.now)
    advances: int = 0
    #: The least simulated time between two advances (long copies need fewer polls).
    stride: float = 1.0

    def tick(self, seconds: float) -> None:
        seconds = max(seconds, self.stride)
        for sim in self.sims:
            sim.advance(seconds)
        self.now += timedelta(seconds=seconds)

    def step(self, execution: Execution) -> float | None:
        self.advances += 1
        return execution_advance(execution_id=execution.pk, now=self.now).again_in

    def run(self, execution: Execution, *, limit: int = 300) -> Execution:
        """Advance until the execution stops asking for more (succeeded or failed)."""
        for _ in range(limit):
            again_in = self.step(execution)
            if again_in is None:
                execution.refresh_from_db()
                return execution
            if again_in:
                self.tick(again_in)
        raise AssertionError(f"execution {execution.pk} did not finish in {limit} advances")

    def run_until(self, execution: Execution, *, step: str, state: str, limit: int = 100) -> None:
        """Advance until step ``step`` reaches ``state`` (e.g. a task was started)."""
        for _ in range(limit):
            again_in = self.step(execution)
            # Checked before the clock moves: the caller acts while the task is young.
            if execution.steps.filter(name=step, state=state).exists():
                return
            if again_in is None:
                break
            if again_in:
                self.tick(again_in)
        raise AssertionError(f"step {step} never reached {state}")


def steps_by_name(execution: Execution) -> dict[str, ExecutionStep]:
    return {s.name: s for s in execution.steps.all()}


def movable(synced: Synced, *, running: bool = True) -> tuple[Any, str]:
    """A synced guest Proxmox lets move now (outside HA, no local resources), and a node
    it may go to."""
    for guest in synced.sim.cluster.estate.guests.values():
        if not plain_qemu(guest) or guest.running is not running or guest.lock:
            continue
        if synced.sim.cluster.estate.ha_resource(guest) is not None:
            continue
        check = synced.gateway.guest_migrate_check(node=guest.node, kind="qemu", vmid=guest.vmid)
        if check.allowed_nodes and not check.local_resources:
            return synced.vm(guest.vmid), check.allowed_nodes[0]
    raise AssertionError("no movable guest")


def migrations(synced: Synced, vmid: int, *, types: tuple[str, ...] = ("qmigrate",)) -> list:
    """The migration tasks Proxmox lists for ``vmid``."""
    return [t for t in synced.gateway.tasks() if t.type in types and t.id == str(vmid)]


def left_by_dead_worker(execution: Execution, *, step: str, now: datetime) -> ExecutionStep:
    """What a worker that died mid-call leaves: ``step`` claimed and running, its lease run
    out, no UPID recorded (the caller then starts the task the worker had started)."""
    row = execution.steps.get(name=step)
    row.state, row.attempts, row.claim = StepState.RUNNING, 1, "dead-worker"
    row.started_at, row.lease_until = now, now - timedelta(seconds=1)
    row.save()
    execution.current = row.position
    execution.save(update_fields=["current"])
    return row


def run_succeeded(synced: Synced, request: Request, **driver: Any) -> Execution:
    """Run ``request``'s execution to its end on ``synced`` and insist it succeeded."""
    execution = Driver([synced.sim], **driver).run(execution_begin(request))
    assert execution.state == "succeeded", execution.error
    request.refresh_from_db()
    return execution


def new_vm(synced: Synced, execution: Execution) -> Any:
    """The live inventory row of the guest the execution's ``reserve`` step named."""
    from inventory.models import VirtualMachine

    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    return VirtualMachine.objects.get(cluster=synced.cluster, vmid=vmid, gone_since__isnull=True)
