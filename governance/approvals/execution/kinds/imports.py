"""import: bring an external disk image (an OVA/OVF disk, a qcow2/vmdk on an import
storage) in as a new VM on approved storage, quarantined and owned from birth.

Parameters (``ImportForm``): ``source_volume`` (volid on the import storage), ``name``,
``node``, ``storage`` (approved class), ``team``, ``classification``. A guest of another
registered (unmanaged) cluster comes in instead with ``source_cluster`` (name) and
``source_vmid``: PVE's ``remote_migrate`` copies it onto ``storage`` here (the source is
kept; deleting it is its own admins' decision).
An appliance (``.ova``/``.ovf``) is read first (``import-metadata``): the guest takes its
cores, memory and OS type unless the request sets ``cores``/``memory_mib``, each of its
disks is imported onto ``storage`` in its own slot, its NICs join the request's ``bridge``.
Steps: reserve a vmid; create the guest with ``import-from`` (PVE copies the image onto
the approved storage; the source stays) or copy it over from the other cluster (the
copy's ``qmigrate`` task is followed on the source cluster, then its receiving
``qmtunnel`` task here); refresh the inventory; record the owner; quarantine it
(policy's ``quarantine_apply``); wait until policy has applied and verified the
quarantine and read the firewall back here; only then start the guest, so it runs in
quarantine from its first boot.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.appliances import appliance_create, is_appliance
from governance.approvals.execution.kinds.common import (
    cluster_by_name,
    guest_settled,
    own_new_guest,
    reserve_vmid,
    sync_new_guest,
    vm_create,
)
from inventory.models import Cluster, VirtualMachine
from inventory.proxmox.provisioning import import_disk_option
from inventory.services.clusters import cluster_endpoint
from policy.models import (
    ActionKind,
    Quarantine,
    QuarantineState,
    Remediation,
    RemediationRunState,
)
from policy.remediation import remediation_step
from policy.remediation.quarantine import quarantine_group
from policy.services.quarantine import quarantine_apply

#: The size an image import starts with (team quotas count it from submission).
IMPORT_CORES = 2
IMPORT_MEMORY_MIB = 2048
#: The receiving side of a remote migration (PVE's ``mtunnel`` worker).
TUNNEL_TASKS = ("qmtunnel", "vzmtunnel")
#: The sending side, on the source cluster.
COPY_TASKS = ("qmigrate", "vzmigrate")
#: Seconds between looks at a quarantine that policy is still applying.
QUARANTINE_POLL = 5.0


def _remote(ctx: StepContext) -> bool:
    return bool(ctx.params.get("source_cluster"))


def _create(ctx: StepContext) -> StepResult:
    if _remote(ctx):
        return StepResult.skipped("copied over from another cluster")
    params = ctx.params
    if is_appliance(params["source_volume"]):
        return appliance_create(ctx)
    return vm_create(
        ctx,
        disk=import_disk_option(storage=params["storage"], source=params["source_volume"]),
        message=f"importing {params['source_volume']} onto {params['storage']}",
        cores=int(params.get("cores") or IMPORT_CORES),
        memory=int(params.get("memory_mib") or IMPORT_MEMORY_MIB),
    )


def _settled(ctx: StepContext) -> StepResult:
    return guest_settled(ctx, node=ctx.params["node"], kind="qemu", vmid=ctx.results["vmid"])


def _arrived(ctx: StepContext) -> StepResult | None:
    """Whether the copy is here: done once unlocked, a wait while it is still arriving,
    None when nothing of it is here yet."""
    vmid = ctx.results["vmid"]
    entry = next((g for g in ctx.gateway.resources().guests if g.vmid == vmid), None)
    if entry is None:
        return None
    if entry.lock:
        return StepResult.retry(f"guest {vmid} is still arriving", after=5)
    return StepResult.done(f"guest {vmid} arrived on {entry.node}")


def _source(ctx: StepContext) -> Cluster | None:
    return cluster_by_name(ctx.params["source_cluster"]) if _remote(ctx) else None


def _copy_in(ctx: StepContext) -> StepResult:
    """Start the copy on the source cluster and follow its task there. Level-triggered: a
    copy that already arrived (or is arriving) is not started again, and a second start
    while the first runs is refused by the source guest's migrate lock."""
    source = _source(ctx)
    if source is None:
        return StepResult.skipped("imported from an image")
    if (here := _arrived(ctx)) is not None:
        return StepResult.done("the copy is under way") if here.kind == "retry" else here
    source_gw = ctx.gateway_for(source.pk)
    vmid = int(ctx.params["source_vmid"])
    guest = next((g for g in source_gw.resources().guests if g.vmid == vmid), None)
    if guest is None:
        return StepResult.failed(f"guest {vmid} does not exist on {source.name}")
    upid = source_gw.guest_remote_migrate(
        node=guest.node,
        kind=guest.kind,
        vmid=vmid,
        target=cluster_endpoint(ctx.request.cluster),
        target_vmid=ctx.results["vmid"],
        target_storage=ctx.params["storage"],
        target_bridge="1",
    )
    return StepResult.started(
        upid, f"copying guest {vmid} over from {source.name}", on_cluster=source.pk
    )


def _tunnel(ctx: StepContext) -> StepResult:
    """Follow the copy through its receiving task here (``qmtunnel``), which the engine
    can poll on this cluster; the source's task lives on the other one."""
    if not _remote(ctx):
        return StepResult.skipped("imported from an image")
    vmid = str(ctx.results["vmid"])
    for task in ctx.gateway.tasks():
        if task.type in TUNNEL_TASKS and task.id == vmid:
            return StepResult.started(task.upid, f"receiving guest {vmid}")
    return _arrived(ctx) or StepResult.retry("the copy has not reached this cluster yet", after=2)


def _copied(ctx: StepContext) -> StepResult:
    return _arrived(ctx) or StepResult.failed("the copy ended but the guest is not here")


def _source_cluster_id(ctx: StepContext) -> int | None:
    source = _source(ctx)
    return source.pk if source is not None else None


def _source_vmid(ctx: StepContext) -> int | None:
    return int(ctx.params["source_vmid"]) if _remote(ctx) else None


def _sync(ctx: StepContext) -> StepResult:
    return sync_new_guest(ctx, cluster_id=ctx.request.cluster_id, vmid=ctx.results["vmid"])


def _quarantine(ctx: StepContext) -> StepResult:
    vm = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    if Quarantine.objects.filter(vm=vm, lifted_at__isnull=True).exists():
        return StepResult.skipped(f"{vm} is already quarantined")
    try:
        quarantine_apply(
            vm=vm,
            reason=f"imported by request #{ctx.request.pk}; lift after review",
            actor=None,
        )
    except ValidationError as exc:
        return StepResult.retry("; ".join(exc.messages), after=15)
    return StepResult.done(f"{vm} quarantined until reviewed")


def _new_vm(ctx: StepContext) -> VirtualMachine:
    return VirtualMachine.objects.select_related("node").get(pk=ctx.results["vm_id"])


def _guest(vm: VirtualMachine) -> dict:
    return {"node": vm.node.name, "kind": vm.kind, "vmid": vm.vmid}


def _quarantine_push(vm: VirtualMachine) -> None:
    """Run the due step of the quarantine's apply remediation here rather than wait for a
    policy worker (the remediation's own claim keeps it from running twice)."""
    due = Remediation.objects.filter(
        vm=vm,
        action=ActionKind.QUARANTINE_APPLY,
        state=RemediationRunState.PENDING,
        dry_run=False,
    ).order_by("pk")
    for remediation in due:
        if remediation.next_attempt_at is None or remediation.next_attempt_at <= timezone.now():
            remediation_step(remediation_id=remediation.pk)


def _firewall_problem(ctx: StepContext, vm: VirtualMachine) -> str:
    """What Proxmox shows against the quarantine (empty when it holds): the quarantine
    group is the guest's first firewall rule and its firewall is on."""
    group = quarantine_group()
    rules = ctx.gateway.guest_firewall_rules(**_guest(vm))
    if not rules or (rules[0].type, rules[0].action) != ("group", group):
        return f"the security group {group} is not the first firewall rule of {vm}"
    if not ctx.gateway.guest_firewall_options(**_guest(vm)).enabled:
        return f"the firewall of {vm} is off"
    return ""


def _quarantine_verified(ctx: StepContext) -> StepResult:
    """Wait until policy applied and verified the quarantine, then read it back here."""
    vm = _new_vm(ctx)
    quarantine = Quarantine.objects.filter(vm=vm, lifted_at__isnull=True).first()
    if quarantine is None:
        return StepResult.failed(
            f"{vm} is no longer quarantined, so it is left stopped; start it by hand once "
            "it has been reviewed"
        )
    if quarantine.applied_state not in (QuarantineState.VERIFIED, QuarantineState.FAILED):
        _quarantine_push(vm)
        quarantine.refresh_from_db()
    if quarantine.applied_state == QuarantineState.FAILED:
        failed = (
            Remediation.objects.filter(vm=vm, action=ActionKind.QUARANTINE_APPLY)
            .order_by("-pk")
            .first()
        )
        why = failed.error if failed is not None and failed.error else "see its remediation"
        return StepResult.failed(
            f"the quarantine of {vm} could not be applied ({why}); the guest stays stopped. "
            "Fix the cause, re-apply the quarantine, then retry this step"
        )
    if quarantine.applied_state != QuarantineState.VERIFIED:
        return StepResult.wait(
            f"waiting for policy to apply the quarantine of {vm}", after=QUARANTINE_POLL
        )
    if problem := _firewall_problem(ctx, vm):
        return StepResult.failed(f"{problem}; the guest stays stopped until it is quarantined")
    return StepResult.done(f"read back: {quarantine_group()} isolates {vm}")


def _start(ctx: StepContext) -> StepResult:
    vm = _new_vm(ctx)
    if ctx.gateway.guest_status(**_guest(vm)).status == "running":
        return StepResult.skipped(f"{vm} is already running")
    if problem := _firewall_problem(ctx, vm):  # lifted or changed since the check
        return StepResult.failed(f"{problem}; the guest was not started")
    upid = ctx.gateway.guest_start(**_guest(vm))
    return StepResult.started(upid, f"starting {vm} in quarantine")


def _running(ctx: StepContext) -> StepResult:
    vm = _new_vm(ctx)
    status = ctx.gateway.guest_status(**_guest(vm)).status
    if status != "running":
        return StepResult.failed(f"{vm} is {status} after its start task")
    return StepResult.done(f"{vm} runs in quarantine")


kind(
    "import",
    StepSpec("reserve", "Reserve a vmid", reserve_vmid),
    StepSpec(
        "create",
        "Create the VM from the image",
        _create,
        verify=_settled,
        task_types=("qmcreate",),
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec(
        "copy_in",
        "Copy the guest from the other cluster",
        _copy_in,
        verify=_copied,
        task_types=COPY_TASKS,
        task_vmid=_source_vmid,
        task_cluster=_source_cluster_id,
    ),
    StepSpec(
        "receive",
        "Receive the guest",
        _tunnel,
        verify=_copied,
        task_types=TUNNEL_TASKS,
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
    StepSpec("quarantine", "Quarantine the new VM", _quarantine, atomic=True),
    StepSpec("quarantine_verify", "Verify the quarantine in Proxmox", _quarantine_verified),
    StepSpec(
        "start",
        "Start the VM in quarantine",
        _start,
        verify=_running,
        task_types=("qmstart",),
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
)
