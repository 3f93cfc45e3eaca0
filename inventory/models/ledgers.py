"""Append-only ledgers of what Proxmox forgets: where a guest ran, its copies, its lineage.

Rows are opened and closed by the sync (``inventory.sync.apply``) and never overwritten:
closing sets ``ended_at``/``deleted_at`` once; nothing else changes after insert.
"""

from __future__ import annotations

from django.db import models

from inventory.models.clusters import Node, Storage
from inventory.models.guests import VirtualMachine


class ResidencyCause(models.TextChoices):
    DISCOVERED = "discovered", "Discovered"
    START = "start", "Start"
    MIGRATE = "migrate", "Migration"
    HA_RECOVERY = "ha_recovery", "HA recovery"
    RESTORE = "restore", "Restore"
    IMPORT = "import", "Import"
    CLONE = "clone", "Clone"
    CREATE = "create", "Create"
    STORAGE_MOVE = "storage_move", "Storage move"


class Residency(models.Model):
    """A period a guest lived on one node; at most one open row (``ended_at`` null) per guest."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="residencies")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="residencies")
    storage_names = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(max_length=20, choices=ResidencyCause.choices)
    task_upid = models.CharField(max_length=200, blank=True)
    # Filled by the approvals issue: the request that allowed this move, if any.
    approving_request_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["vm", "started_at", "id"]
        verbose_name_plural = "residencies"
        indexes = [
            models.Index(fields=["vm", "started_at", "id"], name="inventory_residency_vm_idx"),
            models.Index(fields=["node", "started_at"], name="inventory_residency_node_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(ended_at__isnull=True),
                name="inventory_residency_one_open",
                violation_error_message="A guest has at most one open residency.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vm_id}@{self.node_id} from {self.started_at:%Y-%m-%d %H:%M}"


class CopyKind(models.TextChoices):
    SNAPSHOT = "snapshot", "Snapshot"
    BACKUP = "backup", "Backup"
    EXPORT = "export", "Export"
    CLONE = "clone", "Clone"
    REPLICA = "replica", "Replica"


class Copy(models.Model):
    """A copy of a guest's data; open (``deleted_at`` null) while it exists.

    ``vm`` may be null when the source guest is unknown (a backup of a long-gone vmid);
    ``source_vmid`` always says whose data it is. ``storage_class`` is the class of the
    storage when the copy was recorded, kept even if an admin reclassifies it later.
    """

    vm = models.ForeignKey(
        VirtualMachine, on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    cluster = models.ForeignKey(
        "inventory.Cluster", on_delete=models.CASCADE, related_name="copies"
    )
    source_vmid = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=CopyKind.choices)
    name = models.CharField(max_length=300)
    storage = models.ForeignKey(
        Storage, on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    # Kept beside the key so the copy still says where it is if the storage row goes.
    storage_name = models.CharField(max_length=100, blank=True)
    # The node whose local storage holds the copy; "" on shared storage.
    node = models.CharField(max_length=100, blank=True)
    storage_class = models.CharField(max_length=20, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    vmstate = models.BooleanField(default=False)
    parent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    task_upid = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cluster", "source_vmid", "created_at", "id"]
        verbose_name_plural = "copies"
        indexes = [
            models.Index(
                fields=["cluster", "source_vmid", "created_at", "id"],
                name="inventory_copy_order_idx",
            ),
            models.Index(fields=["vm", "created_at"], name="inventory_copy_vm_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "kind", "source_vmid", "node", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="inventory_copy_unique_open",
                violation_error_message="This copy is already recorded as existing.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} of {self.source_vmid}"


class LineageKind(models.TextChoices):
    """How ``child`` was made: a full copy of a guest, a linked clone (which PVE makes
    only from templates; its disks stay based on the template's), or a full copy of a
    template (``template_of``: the template is what the child was instantiated from)."""

    CLONE = "clone", "Full clone"
    LINKED_CLONE = "linked_clone", "Linked clone"
    TEMPLATE_OF = "template_of", "Template of"


class Lineage(models.Model):
    """That ``child`` was made from ``parent``; recorded once per (parent, child, kind)."""

    parent = models.ForeignKey(
        VirtualMachine, on_delete=models.CASCADE, related_name="lineage_children"
    )
    child = models.ForeignKey(
        VirtualMachine, on_delete=models.CASCADE, related_name="lineage_parents"
    )
    kind = models.CharField(max_length=20, choices=LineageKind.choices)
    task_upid = models.CharField(max_length=200, blank=True)
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["parent", "detected_at", "id"]
        indexes = [
            models.Index(fields=["parent", "detected_at", "id"], name="inventory_lineage_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "child", "kind"],
                name="inventory_lineage_unique",
                violation_error_message="This lineage is already recorded.",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("child")),
                name="inventory_lineage_not_self",
                violation_error_message="A guest is not its own parent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} -> {self.child_id} ({self.kind})"


class RollbackSource(models.TextChoices):
    TASK = "task", "Rollback task"
    VMGENID_CHANGE = "vmgenid_change", "vmgenid change"


class Rollback(models.Model):
    """A detected return of a guest to an earlier state, by a rollback task or a new vmgenid."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="rollbacks")
    detected_at = models.DateTimeField()
    snapshot_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=20, choices=RollbackSource.choices)
    task_upid = models.CharField(max_length=200, blank=True)
    old_vmgenid = models.CharField(max_length=64, blank=True)
    new_vmgenid = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["vm", "detected_at", "id"]
        indexes = [
            models.Index(fields=["vm", "detected_at", "id"], name="inventory_rollback_vm_idx"),
        ]
        constraints = [
            # One row per rollback task; vmgenid-only detections carry no UPID.
            models.UniqueConstraint(
                fields=["vm", "task_upid"],
                condition=~models.Q(task_upid=""),
                name="inventory_rollback_unique_task",
                violation_error_message="This rollback task is already recorded.",
            ),
        ]

    def __str__(self) -> str:
        return f"rollback of {self.vm_id} at {self.detected_at:%Y-%m-%d %H:%M}"
