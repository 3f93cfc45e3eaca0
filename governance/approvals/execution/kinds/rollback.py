"""rollback: return the request's VM to one of its snapshots.

Parameters (``RollbackForm``): ``snapshot``. Steps: check the snapshot still exists,
roll back (PVE stops a running guest first; ``start`` brings it back up when it ran),
refresh the inventory, which records the rollback in the ledger.
"""

from __future__ import annotations

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import refresh


def _check(ctx: StepContext) -> StepResult:
    name = ctx.params.get("snapshot") or ""
    snapshots = {s.name for s in ctx.gateway.snapshots(**ctx.vm_target())}
    if name not in snapshots:
        return StepResult.failed(f"snapshot {name!r} does not exist (any more)")
    running = ctx.gateway.guest_status(**ctx.vm_target()).status == "running"
    return StepResult.done(f"snapshot {name!r} exists", was_running=running)


def _rollback(ctx: StepContext) -> StepResult:
    upid = ctx.gateway.snapshot_rollback(
        **ctx.vm_target(),
        name=ctx.params["snapshot"],
        start=bool(ctx.results.get("was_running")),
    )
    return StepResult.started(upid, f"rolling back to {ctx.params['snapshot']!r}")


def _verify(ctx: StepContext) -> StepResult:
    config = ctx.gateway.guest_config(**ctx.vm_target())
    if config.values.get("parent") not in (None, ctx.params["snapshot"]):
        return StepResult.failed(
            f"the guest's current state descends from {config.values['parent']!r}, "
            f"not {ctx.params['snapshot']!r}"
        )
    return StepResult.done(f"the guest is back at {ctx.params['snapshot']!r}")


def _sync(ctx: StepContext) -> StepResult:
    if (problem := refresh(ctx.request.vm.cluster_id)) is not None:
        return problem
    return StepResult.done("the inventory shows the rollback")


kind(
    "rollback",
    StepSpec("check", "Check the snapshot", _check),
    StepSpec(
        "rollback",
        "Roll back",
        _rollback,
        verify=_verify,
        task_types=("qmrollback", "vzrollback"),
    ),
    StepSpec("sync", "Refresh the inventory", _sync),
)
