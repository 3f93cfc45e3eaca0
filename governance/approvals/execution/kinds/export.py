"""export: a backup of the request's VM onto an export storage, recorded in the copy
ledger as an ``export`` copy that is deleted (through the API) when it expires.

Parameters (``ExportForm``): ``storage`` (an external-class storage), ``available_days``.
Steps: back up, find the archive, record it with its expiry. The expiry itself is the
``export_expire`` service below, run by a beat task. (A move to another cluster is the
``migrate`` kind with ``target_cluster``.)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.models import ExecutionState, ExecutionStep, RequestKind
from governance.audit.services import audit_record
from inventory.models import Copy, CopyKind, Storage
from inventory.proxmox import ProxmoxError, ProxmoxGateway, ProxmoxNotFound
from inventory.services.clusters import cluster_endpoint

logger = logging.getLogger(__name__)

LEDGER_STEP = "ledger"


def _backup(ctx: StepContext) -> StepResult:
    target = ctx.vm_target()
    upid = ctx.gateway.vzdump(
        node=target["node"],
        vmid=target["vmid"],
        storage=ctx.params["storage"],
        notes=f"Steward export, request #{ctx.request.pk}",
    )
    return StepResult.started(upid, f"backing up to {ctx.params['storage']}")


def _archive(ctx: StepContext) -> StepResult:
    """The archive this backup wrote: the newest one of the guest on the storage."""
    target = ctx.vm_target()
    volumes = [
        v
        for v in ctx.gateway.storage_content(node=target["node"], storage=ctx.params["storage"])
        if v.content == "backup" and v.vmid == target["vmid"]
    ]
    if not volumes:
        return StepResult.failed("the backup ended but no archive of the guest is on the storage")
    newest = max(volumes, key=lambda v: (v.ctime or timezone.now(), v.volid))
    return StepResult.done(f"archive {newest.volid}", volid=newest.volid, size=newest.size)


def _ledger(ctx: StepContext) -> StepResult:
    """Atomic: open the export copy row and remember when it expires."""
    vm = ctx.request.vm
    volid = ctx.results["volid"]
    storage = Storage.objects.filter(cluster_id=vm.cluster_id, name=ctx.params["storage"]).first()
    node = "" if storage is None or storage.shared else ctx.vm_target()["node"]
    now = timezone.now()
    copy, _ = Copy.objects.get_or_create(
        cluster_id=vm.cluster_id,
        kind=CopyKind.EXPORT,
        source_vmid=vm.vmid,
        node=node,
        name=volid,
        deleted_at=None,
        defaults={
            "vm": vm,
            "storage": storage,
            "storage_name": ctx.params["storage"],
            "storage_class": storage.storage_class if storage else "",
            "size": ctx.results.get("size", 0),
            "created_at": now,
            "task_upid": ctx.execution.steps.get(name="backup").upid,
        },
    )
    expires = now + timedelta(days=int(ctx.params.get("available_days", 7)))
    return StepResult.done(
        f"export recorded, available until {expires:%Y-%m-%d %H:%M}",
        copy_id=copy.pk,
        expires_at=expires.isoformat(),
    )


kind(
    "export",
    StepSpec("backup", "Back up to the export storage", _backup, task_types=("vzdump",)),
    StepSpec("archive", "Find the archive", _archive),
    StepSpec(LEDGER_STEP, "Record the export", _ledger, atomic=True),
)


# Expiry ----------------------------------------------------------------------------------


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


def export_expire(*, copy: Copy, step: ExecutionStep, gateway: ProxmoxGateway) -> bool:
    """Delete one expired export archive through the API and close its ledger row; True
    when the archive is gone. A deletion that fails leaves the row open for the next run."""
    node = copy.node or _any_online_node(gateway)
    try:
        gateway.storage_volume_delete(node=node, storage=copy.storage_name, volid=copy.name)
    except ProxmoxNotFound:
        pass  # already deleted by hand: close the row all the same
    except ProxmoxError as exc:
        logger.warning("export %s of request %s not deleted: %s", copy.name, step.pk, exc)
        return False
    with transaction.atomic():
        closed = Copy.objects.filter(pk=copy.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        if closed:
            audit_record(
                actor=None,
                action="approvals.export_expired",
                target=step.execution.request,
                after={"volid": copy.name, "storage": copy.storage_name},
            )
    return True


def exports_expire(*, now: datetime | None = None) -> int:
    """Beat: delete every export whose availability ended; the number deleted."""
    deleted = 0
    gateways: dict[int, ProxmoxGateway] = {}
    for copy, step in exports_due(now=now or timezone.now()):
        if copy.cluster_id not in gateways:
            gateways[copy.cluster_id] = ProxmoxGateway(cluster_endpoint(copy.cluster))
        deleted += export_expire(copy=copy, step=step, gateway=gateways[copy.cluster_id])
    return deleted


def _any_online_node(gateway: ProxmoxGateway) -> str:
    for entry in gateway.resources().nodes:
        if entry.status == "online":
            return entry.name
    raise ProxmoxNotFound("no online node sees the export storage")
