"""snapshot_delete: delete one snapshot of the request's VM, then close its copy-ledger row.

Parameters: ``snapshot`` (the snapshot name). The delete step is level-triggered (a
snapshot already gone is skipped) and declares its task types, so a worker that died
after starting the delete has its task found and adopted instead of a second delete.
"""

from __future__ import annotations

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from inventory.models import Copy, CopyKind


def _present(ctx: StepContext) -> bool:
    name = ctx.params["snapshot"]
    return any(s.name == name for s in ctx.gateway.snapshots(**ctx.vm_target()))


def _delete(ctx: StepContext) -> StepResult:
    name = ctx.params.get("snapshot") or ""
    if not name:
        return StepResult.failed("the request names no snapshot")
    if not _present(ctx):
        return StepResult.skipped(f"snapshot {name!r} is already gone")
    upid = ctx.gateway.snapshot_delete(**ctx.vm_target(), name=name)
    return StepResult.started(upid, f"deleting snapshot {name!r}")


def _verify(ctx: StepContext) -> StepResult:
    name = ctx.params["snapshot"]
    if _present(ctx):
        return StepResult.failed(f"the task ended but snapshot {name!r} is still there")
    return StepResult.done(f"snapshot {name!r} deleted")


def _recover(ctx: StepContext) -> StepResult | None:
    """A delete interrupted before its UPID was stored: done if the snapshot is gone."""
    if not _present(ctx):
        return StepResult.done(f"snapshot {ctx.params['snapshot']!r} is gone")
    return None


def _ledger(ctx: StepContext) -> StepResult:
    vm = ctx.request.vm
    closed = Copy.objects.filter(
        vm=vm, kind=CopyKind.SNAPSHOT, name=ctx.params["snapshot"], deleted_at__isnull=True
    ).update(deleted_at=timezone.now())
    return StepResult.done(f"copy ledger: {closed} snapshot row(s) closed")


kind(
    "snapshot_delete",
    StepSpec(
        "delete",
        "Delete the snapshot",
        _delete,
        verify=_verify,
        task_types=("qmdelsnapshot", "vzdelsnapshot"),
        recover=_recover,
    ),
    StepSpec("ledger", "Close the snapshot's copy-ledger row", _ledger, atomic=True),
)
