"""No removable media: no host USB/PCI/serial/parallel passthrough, no physical CD-ROM, no
ISO outside approved ISO storage, disks and backups only on approved storage, and no
backup job writing the guest to removable or external storage.

Finding keys: the device key (``usb0``: remove it with the config digest), the CD-ROM
key (``ide2``: detach the media), ``disk:<key>`` (reported: moving a disk goes through a
request), ``backup:<volid>`` (a deletion request for the copy), ``job:<id>`` (exclude
the guest from the job).
"""

from __future__ import annotations

from inventory.parsing import reaches_host
from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, iso, vm_finding

PARAMS = {
    "approved_iso_storages": Param(
        list, [], "Storages ISO images may come from (empty: storages classed approved)."
    ),
    "check_disks": Param(bool, True, "Disks must be on storage classed approved."),
    "check_backups": Param(bool, True, "Backups must be on storage classed approved."),
    "check_backup_jobs": Param(
        bool, True, "No backup job may write the guest to removable or external storage."
    ),
}

_PASSTHROUGH = {"usb", "pci", "serial", "parallel"}
_OFF_SITE = {"removable", "external"}


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    cluster = ctx.fleet.clusters[vm.cluster_id]
    classes = cluster.storage_class
    found: list[Finding] = []
    for device in vm.devices:
        line = f"{device.key}: {device.value}"
        if device.kind in _PASSTHROUGH and reaches_host(device):
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    device.key,
                    f"{device.kind.upper()} passthrough {line}",
                    line=line,
                    digest=vm.config_digest,
                    device=device.kind,
                )
            )
        elif device.kind == "cdrom" and device.value not in ("none", ""):
            storage = device.value.split(":", 1)[0] if ":" in device.value else ""
            approved = params["approved_iso_storages"]
            if device.value == "cdrom":
                problem = "the host's physical CD-ROM drive"
            elif storage in approved or (not approved and classes.get(storage) == "approved"):
                continue
            else:
                problem = f"an ISO from storage {storage or '?'}, which is not approved for ISOs"
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    device.key,
                    f"CD-ROM {device.key} holds {problem}",
                    line=line,
                    digest=vm.config_digest,
                    storage=storage,
                )
            )
    if params["check_disks"]:
        for disk in vm.disks:
            if disk.storage and classes.get(disk.storage, "unclassified") != "approved":
                found.append(
                    vm_finding(
                        ctx,
                        vm,
                        f"disk:{disk.key}",
                        f"Disk {disk.key} is on storage {disk.storage} "
                        f"({classes.get(disk.storage, 'unknown')}), not approved storage",
                        volume=disk.volume,
                        storage=disk.storage,
                        storage_class=classes.get(disk.storage, "unknown"),
                    )
                )
    if params["check_backups"]:
        for copy in vm.copies:
            if copy.kind == "backup" and copy.storage_class != "approved":
                found.append(
                    vm_finding(
                        ctx,
                        vm,
                        f"backup:{copy.name}",
                        f"Backup {copy.name} is on {copy.storage_class or 'unclassified'} "
                        f"storage {copy.storage}",
                        volid=copy.name,
                        storage=copy.storage,
                        copy_node=copy.node,
                        storage_class=copy.storage_class,
                        created_at=iso(copy.created_at),
                    )
                )
    if params["check_backup_jobs"]:
        for job in cluster.backup_jobs:
            target_class = classes.get(job.storage, "unclassified")
            if target_class in _OFF_SITE and job.includes(vm):
                found.append(
                    vm_finding(
                        ctx,
                        vm,
                        f"job:{job.job_id}",
                        f"Backup job {job.job_id} writes the guest to {target_class} storage "
                        f"{job.storage}",
                        job_id=job.job_id,
                        storage=job.storage,
                        storage_class=target_class,
                    )
                )
    return found or NONE


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    evidence, key = finding.evidence, finding.rule_key
    if key.startswith("job:"):
        return (
            action(
                finding,
                ActionKind.BACKUP_EXCLUDE,
                f"Exclude guest {finding.vmid} from backup job {evidence['job_id']}",
                job_id=evidence["job_id"],
            ),
        )
    if key.startswith("backup:"):
        return (
            action(
                finding,
                ActionKind.DELETION_REQUEST,
                f"Ask for deletion of backup {evidence['volid']}",
                volid=evidence["volid"],
                storage=evidence["storage"],
                node=evidence["copy_node"],
                reason=finding.summary,
            ),
        )
    if key.startswith("disk:"):
        return ()
    if "device" in evidence:
        return (
            action(
                finding,
                ActionKind.REMOVE_DEVICE,
                f"Remove {evidence['line']}",
                key=key,
                line=evidence["line"],
                digest=evidence["digest"],
            ),
        )
    return (
        action(
            finding,
            ActionKind.DETACH_MEDIA,
            f"Eject the media of {key}",
            key=key,
            line=evidence["line"],
            digest=evidence["digest"],
        ),
    )


def _has_unapproved_backup(vm: VmFacts) -> bool:
    return any(c.kind == "backup" and c.storage_class != "approved" for c in vm.copies)


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    clusters = ctx.fleet.clusters
    approved = {
        cid: frozenset(name for name, cls in c.storage_class.items() if cls == "approved")
        for cid, c in clusters.items()
    }
    # Most guests have copies, few have a backup off approved storage: only those count.
    backups = params["check_backups"]
    if params["check_disks"]:
        flagged = [
            vm
            for vm in vms
            if vm.devices
            or not vm.disk_storages <= approved[vm.cluster_id]
            or (backups and vm.copies and _has_unapproved_backup(vm))
        ]
    else:
        flagged = [
            vm for vm in vms if vm.devices or (backups and vm.copies and _has_unapproved_backup(vm))
        ]
    if not params["check_backup_jobs"]:
        return flagged
    everyone, listed, pools = set(), set(), set()
    for cid, c in clusters.items():
        for job in c.backup_jobs:
            if job.enabled and c.storage_class.get(job.storage) in _OFF_SITE:
                if job.selection == "all":
                    everyone.add(cid)
                elif job.selection == "pool":
                    pools.add((cid, job.pool))
                else:
                    listed.update((cid, vmid) for vmid in job.vmids)
    if not (everyone or listed or pools):
        return flagged
    seen = {vm.id for vm in flagged}
    if not (everyone or pools):
        # Jobs that list guests: the vmid alone rules out almost every guest cheaply.
        vmids = {vmid for _, vmid in listed}
        return flagged + [
            vm
            for vm in vms
            if vm.vmid in vmids and (vm.cluster_id, vm.vmid) in listed and vm.id not in seen
        ]
    return flagged + [
        vm
        for vm in vms
        if vm.id not in seen
        and (
            vm.cluster_id in everyone
            or (vm.cluster_id, vm.vmid) in listed
            or (vm.cluster_id, vm.pool) in pools
        )
    ]


RULE = Rule(
    "no_removable_media",
    PARAMS,
    evaluate,
    remedies,
    candidates=candidates,
    facets=frozenset(("devices", "disks", "copies")),
)
