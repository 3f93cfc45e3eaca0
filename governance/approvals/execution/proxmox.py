"""The engine's Proxmox side: gateways per worker process, task polls, crash recovery.

``task_recover`` is how a step interrupted mid-call (or retried after an error) is found
out instead of run blindly again: a task of one of the step's ``task_types`` on its vmid,
started since the step was first claimed (less ``TASK_SKEW``), is adopted; otherwise the
step's ``recover`` hook judges from Proxmox state.

A step's task is looked up, polled and stopped on the cluster it runs on (the step's
``task_cluster``, remembered on the row with the UPID), which for a cross-cluster move may
be another than the request's.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec
from governance.approvals.models import ExecutionStep
from inventory.proxmox import Endpoint, ProxmoxGateway

#: A task found this long before the claim still counts as ours (clock skew).
TASK_SKEW = timedelta(seconds=30)

#: Gateways kept per worker process: a new one costs a TLS handshake per advance, which
#: at a thousand polling executions is most of the work. Keyed by the endpoint, so a
#: cluster whose URL, token or trust changed gets a fresh client.
_GATEWAYS: dict[int, tuple[Endpoint, float, ProxmoxGateway]] = {}
GATEWAY_TTL = 300.0


def default_gateway(cluster_id: int) -> ProxmoxGateway:
    from inventory.models import Cluster
    from inventory.services.clusters import cluster_endpoint

    endpoint = cluster_endpoint(Cluster.objects.get(pk=cluster_id))
    cached = _GATEWAYS.get(cluster_id)
    if cached is not None and cached[0] == endpoint and time.monotonic() - cached[1] < GATEWAY_TTL:
        return cached[2]
    gateway = ProxmoxGateway(endpoint)
    _GATEWAYS[cluster_id] = (endpoint, time.monotonic(), gateway)
    return gateway


def task_recover(ctx: StepContext, spec: StepSpec, step: ExecutionStep) -> StepResult | None:
    """What an interrupted step achieved: its task adopted, or ``recover``'s verdict."""
    vm = ctx.request.vm
    vmid = spec.task_vmid(ctx) if spec.task_vmid else (vm.vmid if vm is not None else None)
    # Without a vmid any task of the type would match: nothing is adopted then.
    if spec.task_types and vmid is not None:
        since = (step.started_at or timezone.now()) - TASK_SKEW
        cluster_id = spec.cluster_of_tasks(ctx)
        for task in ctx.gateway_for(cluster_id).tasks():
            if (
                task.type in spec.task_types
                and task.id == str(vmid)
                and task.starttime is not None
                and task.starttime >= since
            ):
                return StepResult.started(
                    task.upid, f"adopted task {task.upid} after a restart", on_cluster=cluster_id
                )
    if spec.recover is not None:
        return spec.recover(ctx)
    return None


def task_gateway(ctx: StepContext, step: ExecutionStep) -> ProxmoxGateway:
    """The gateway of the cluster that answers for ``step.upid``."""
    return ctx.gateway_for(step.task_cluster_id) if step.task_cluster_id else ctx.gateway


def task_poll(
    ctx: StepContext, spec: StepSpec, step: ExecutionStep, *, stop: bool = False
) -> tuple[StepResult | None, list[str]]:
    """Read the task once; ``None`` while it runs. Log lines come back either way.
    ``stop``: a task still running is asked to stop (the execution was cancelled)."""
    gateway = task_gateway(ctx, step)
    task = gateway.task_status(step.upid)
    if task.running and stop:
        gateway.task_stop(step.upid)
        task = gateway.task_status(step.upid)
    lines = gateway.task_log(step.upid, start=step.log_offset)
    if task.running:
        return None, lines
    if not task.ok:
        return StepResult.failed(f"task {step.upid} failed: {task.status}"), lines
    if spec.verify is not None:
        return spec.verify(ctx), lines
    return StepResult.done(f"task {step.upid} ended OK"), lines
