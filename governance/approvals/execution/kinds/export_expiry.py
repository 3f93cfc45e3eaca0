"""Expiry of exports (the beat task ``approvals.exports_expire``): when an export's
availability ends, Steward deletes it through the API and closes its copy-ledger row.

- A backup archive is deleted from its export storage.
- A copy on another cluster is destroyed there, one action per run so no run waits on a
  task: a running copy is stopped, a stopped one destroyed, and the row closed once
  Proxmox no longer lists it. A copy someone renamed is left alone (it is no longer
  recognisably the export) and one already deleted or moved off the cluster is simply
  recorded as gone; both close the row, so nothing is destroyed by mistake and no row
  stays open for ever. A locked copy or an unreachable cluster leaves the row open for
  the next run.

The same beat removes the temporary full clone an export copy is made from when the
export will not move it any more: its execution was cancelled, or failed at the clone
step (a retry clones again). After a failed move the clone is kept so an admin's retry
moves it; cancelling the request then removes it. One action per run as above (stop,
then destroy), only on a guest that still has the clone's vmid and name.

Every action is audited on the request that made the export.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.approvals.execution.kinds.export_copy import clone_name
from governance.approvals.models import ExecutionState, ExecutionStep, RequestKind, StepState
from governance.audit.services import audit_record
from inventory.models import Cluster, Copy, CopyKind
from inventory.proxmox import ProxmoxError, ProxmoxGateway, ProxmoxNotFound
from inventory.proxmox.types import GuestEntry
from inventory.services.clusters import cluster_endpoint

logger = logging.getLogger(__name__)

#: The export step whose result says what was exported and until when.
LEDGER_STEP = "ledger"
#: Executions that ended longer ago than this are not looked at for a left clone.
CLONE_CLEANUP_WINDOW = timedelta(days=7)


def exports_due(*, now: datetime) -> list[tuple[Copy, ExecutionStep]]:
    """Open export copies whose availability ended, with the step that recorded them."""
    # Few exports are open at a time; finished history is never scanned.
    open_ids = list(
        Copy.objects.filter(kind=CopyKind.EXPORT, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    steps = ExecutionStep.objects.filter(
        name=LEDGER_STEP,
        execution__request__kind=RequestKind.EXPORT,
        execution__state=ExecutionState.SUCCEEDED,
        result__copy_id__in=open_ids,
    ).select_related("execution__request")
    due = {}
    for step in steps:
        expires = step.result.get("expires_at")
        if step.result.get("copy_id") and expires and datetime.fromisoformat(expires) <= now:
            due[step.result["copy_id"]] = step
    copies = Copy.objects.filter(pk__in=due, deleted_at__isnull=True).select_related("cluster")
    return [(copy, due[copy.pk]) for copy in copies]


def _close(*, copy: Copy, step: ExecutionStep, **after: Any) -> bool:
    with transaction.atomic():
        closed = Copy.objects.filter(pk=copy.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        if closed:
            audit_record(
                actor=None,
                action="approvals.export_expired",
                target=step.execution.request,
                after={"name": copy.name, "storage": copy.storage_name, **after},
            )
    return bool(closed)


def export_expire(*, copy: Copy, step: ExecutionStep, gateway: ProxmoxGateway) -> bool:
    """Delete one expired export through the API (``gateway`` reaches the cluster that
    holds it) and close its ledger row; True when the row was closed this run."""
    if "target_vmid" in step.result:
        return _copy_expire(copy=copy, step=step, gateway=gateway)
    node = copy.node or _any_online_node(gateway)
    try:
        gateway.storage_volume_delete(node=node, storage=copy.storage_name, volid=copy.name)
    except ProxmoxNotFound:
        pass  # already deleted by hand: close the row all the same
    except ProxmoxError as exc:
        logger.warning("export %s of request %s not deleted: %s", copy.name, step.pk, exc)
        return False
    return _close(copy=copy, step=step, volid=copy.name)


def _copy_expire(*, copy: Copy, step: ExecutionStep, gateway: ProxmoxGateway) -> bool:
    """One action on an expired copy on another cluster (see the module docstring)."""
    vmid, name = step.result["target_vmid"], step.result.get("copy_name", "")
    try:
        entry = next((g for g in gateway.resources().guests if g.vmid == vmid), None)
        if entry is None:
            return _close(copy=copy, step=step, vmid=vmid, outcome="gone")
        if entry.name != name:
            return _close(
                copy=copy, step=step, vmid=vmid, outcome=f"left alone: renamed to {entry.name}"
            )
        if entry.lock:
            return False  # a task holds it; the next run looks again
        _stop_or_destroy(gateway, entry, "copy", request=step.execution.request, name=copy.name)
    except ProxmoxError as exc:
        logger.warning("export copy %s of request %s not deleted: %s", copy.name, step.pk, exc)
    return False


def _stop_or_destroy(
    gateway: ProxmoxGateway, entry: GuestEntry, what: str, *, request: Any, name: str
) -> None:
    """Stop a running guest, else destroy it (one task); audited as
    ``approvals.export_<what>_stop`` or ``_destroy`` on ``request``."""
    guest = {"node": entry.node, "kind": entry.kind, "vmid": entry.vmid}
    if entry.status == "running":
        upid, action = gateway.guest_stop(**guest), f"approvals.export_{what}_stop"
    else:
        upid, action = gateway.guest_destroy(**guest), f"approvals.export_{what}_destroy"
    audit_record(
        actor=None,
        action=action,
        target=request,
        after={"name": name, "node": entry.node, "vmid": entry.vmid, "task": upid},
    )


def _gateway_for(copy: Copy, step: ExecutionStep, cache: dict[int, ProxmoxGateway]) -> Any:
    cluster_id = step.result.get("target_cluster_id") or copy.cluster_id
    if cluster_id not in cache:
        cluster = (
            copy.cluster if cluster_id == copy.cluster_id else Cluster.objects.get(pk=cluster_id)
        )
        cache[cluster_id] = ProxmoxGateway(cluster_endpoint(cluster))
    return cache[cluster_id]


def exports_expire(*, now: datetime | None = None) -> int:
    """Beat: act on every export whose availability ended, and on temporary clones left
    by exports that ended without moving them; the number of ledger rows closed."""
    now = now or timezone.now()
    closed = 0
    gateways: dict[int, ProxmoxGateway] = {}
    for copy, step in exports_due(now=now):
        gateway = _gateway_for(copy, step, gateways)
        closed += export_expire(copy=copy, step=step, gateway=gateway)
    for step in clones_left(now=now):
        cluster_id = step.execution.request.vm.cluster_id
        if cluster_id not in gateways:
            gateways[cluster_id] = ProxmoxGateway(
                cluster_endpoint(Cluster.objects.get(pk=cluster_id))
            )
        clone_remove(step=step, gateway=gateways[cluster_id])
    return closed


def clones_left(*, now: datetime) -> list[ExecutionStep]:
    """``clone`` steps (with the clone's vmid in their execution) of recent export
    executions that ended cancelled after the clone was started, or failed at it."""
    steps = ExecutionStep.objects.filter(
        name="clone",
        execution__request__kind=RequestKind.EXPORT,
        execution__request__vm__isnull=False,
        execution__finished_at__gte=now - CLONE_CLEANUP_WINDOW,
    ).select_related("execution__request__vm")
    cancelled = steps.filter(execution__state=ExecutionState.CANCELLED).exclude(upid="")
    failed = steps.filter(execution__state=ExecutionState.FAILED, state=StepState.FAILED)
    return [*cancelled, *failed]


def clone_remove(*, step: ExecutionStep, gateway: ProxmoxGateway) -> None:
    """One action on the temporary clone of ``step``'s export, if it is still there."""
    request = step.execution.request
    reserved = step.execution.steps.filter(name="clone_reserve").first()
    vmid = (reserved.result if reserved else {}).get("clone_vmid")
    if vmid is None:
        return
    name = clone_name(request.pk, request.vm.vmid)
    try:
        entry = next((g for g in gateway.resources().guests if g.vmid == vmid), None)
        if entry is None or entry.name != name or entry.lock:
            return  # gone, not ours, or a task holds it (the next run looks again)
        _stop_or_destroy(gateway, entry, "clone", request=request, name=name)
    except ProxmoxError as exc:
        logger.warning("temporary clone %s of request %s not removed: %s", name, request.pk, exc)


def _any_online_node(gateway: ProxmoxGateway) -> str:
    for entry in gateway.resources().nodes:
        if entry.status == "online":
            return entry.name
    raise ProxmoxNotFound("no online node sees the export storage")
