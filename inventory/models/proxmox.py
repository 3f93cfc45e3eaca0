"""Cluster-level Proxmox objects mirrored as-is: tasks, backup jobs, HA, ACL entries.

Except for tasks (kept as history), each table holds exactly the cluster's current
set after a complete read of that part; an incomplete read leaves it untouched.
"""

from __future__ import annotations

from django.db import models

from inventory.models.clusters import Cluster


class ProxmoxTask(models.Model):
    """A task from the cluster's task history, unique by UPID; kept after PVE forgets it."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="tasks")
    upid = models.CharField(max_length=200, unique=True)
    node = models.CharField(max_length=100)
    type = models.CharField(max_length=30)
    vmid = models.PositiveIntegerField(null=True, blank=True)
    user = models.CharField(max_length=200, blank=True)
    starttime = models.DateTimeField()
    endtime = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["cluster", "-starttime", "id"]
        indexes = [
            models.Index(fields=["cluster", "-starttime", "id"], name="inventory_task_order_idx"),
            models.Index(fields=["cluster", "vmid", "starttime"], name="inventory_task_vmid_idx"),
        ]

    def __str__(self) -> str:
        return self.upid


class BackupSelection(models.TextChoices):
    ALL = "all", "All guests"
    VMIDS = "vmids", "Listed guests"
    POOL = "pool", "Pool"


class BackupJob(models.Model):
    """A scheduled backup job (``/cluster/backup``), unique by job id within a cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="backup_jobs")
    job_id = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    schedule = models.CharField(max_length=100, blank=True)
    storage = models.CharField(max_length=100, blank=True)
    mode = models.CharField(max_length=20, blank=True)
    selection = models.CharField(
        max_length=10, choices=BackupSelection.choices, default=BackupSelection.VMIDS
    )
    vmids = models.JSONField(default=list, blank=True)
    exclude = models.JSONField(default=list, blank=True)
    pool = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["cluster", "job_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "job_id"],
                name="inventory_backupjob_unique",
                violation_error_message="A cluster has one backup job per id.",
            ),
        ]

    def __str__(self) -> str:
        return self.job_id


class HAResource(models.Model):
    """A guest under HA management (``/cluster/ha/resources``), unique by sid per cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ha_resources")
    sid = models.CharField(max_length=50)
    vmid = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, blank=True)
    group = models.CharField(max_length=100, blank=True)
    max_restart = models.PositiveSmallIntegerField(default=1)
    max_relocate = models.PositiveSmallIntegerField(default=1)
    failback = models.BooleanField(default=True)

    class Meta:
        ordering = ["cluster", "sid"]
        verbose_name = "HA resource"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "sid"],
                name="inventory_haresource_unique",
                violation_error_message="A cluster has one HA resource per sid.",
            ),
        ]

    def __str__(self) -> str:
        return self.sid


class HARule(models.Model):
    """An HA rule of PVE 9 (node affinity or resource affinity), unique by name per cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ha_rules")
    rule = models.CharField(max_length=100)
    type = models.CharField(max_length=30)
    nodes = models.JSONField(default=list, blank=True)
    resources = models.JSONField(default=list, blank=True)
    affinity = models.CharField(max_length=20, blank=True)
    strict = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["cluster", "rule"]
        verbose_name = "HA rule"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "rule"],
                name="inventory_harule_unique",
                violation_error_message="A cluster has one HA rule per name.",
            ),
        ]

    def __str__(self) -> str:
        return self.rule


class HAGroup(models.Model):
    """An HA group of PVE 8 (replaced by rules in 9), unique by name per cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ha_groups")
    group = models.CharField(max_length=100)
    nodes = models.JSONField(default=list, blank=True)
    restricted = models.BooleanField(default=False)
    nofailback = models.BooleanField(default=False)

    class Meta:
        ordering = ["cluster", "group"]
        verbose_name = "HA group"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "group"],
                name="inventory_hagroup_unique",
                violation_error_message="A cluster has one HA group per name.",
            ),
        ]

    def __str__(self) -> str:
        return self.group


class AclEntry(models.Model):
    """One ACL entry of a cluster (path, user/group/token, role), unique as a whole."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="acl_entries")
    path = models.CharField(max_length=300)
    ugid = models.CharField(max_length=200)
    ugid_type = models.CharField(max_length=10)
    roleid = models.CharField(max_length=100)
    propagate = models.BooleanField(default=True)

    class Meta:
        ordering = ["cluster", "path", "ugid", "roleid"]
        verbose_name = "ACL entry"
        verbose_name_plural = "ACL entries"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "path", "ugid", "roleid"],
                name="inventory_acl_unique",
                violation_error_message="This ACL entry is already recorded.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path} {self.ugid} {self.roleid}"
