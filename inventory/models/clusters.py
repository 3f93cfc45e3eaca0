"""Clusters and the infrastructure they report: nodes, storage, pools, sync runs."""

from __future__ import annotations

from django.db import models

from governance.core.fields import EncryptedTextField


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class Cluster(models.Model):
    """A registered Proxmox VE cluster; ``name`` is a unique slug, the token secret is encrypted.

    TLS is verified by ``ca_bundle`` or the pinned ``fingerprint`` unless ``insecure``.
    The ``last_sync_*`` fields mirror the newest finished ``SyncRun`` (written by the sync
    service only).
    """

    name = models.SlugField(max_length=100, unique=True)
    api_url = models.URLField(max_length=300)
    token_id = models.CharField(max_length=200)
    token_secret = EncryptedTextField()
    fingerprint = models.CharField(max_length=200, blank=True)
    ca_bundle = models.TextField(blank=True)
    insecure = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    pve_version = models.CharField(max_length=50, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(
        max_length=10, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_sync_error = models.TextField(blank=True)
    # The sync lease: while in the future, one sync holds this cluster (see sync.service).
    sync_lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # The unique constraint on name doubles as the ordering index.

    def __str__(self) -> str:
        return self.name


class Node(models.Model):
    """A node of a cluster, unique by name within it; ``gone_since`` is set once it vanishes."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="unknown")
    maxcpu = models.PositiveIntegerField(default=0)
    maxmem = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    gone_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                name="inventory_node_unique_cluster_name",
                violation_error_message="A cluster has at most one node of this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.name}"


class StorageClass(models.TextChoices):
    UNCLASSIFIED = "unclassified", "Unclassified"
    APPROVED = "approved", "Approved"
    REMOVABLE = "removable", "Removable"
    EXTERNAL = "external", "External"
    QUARANTINE = "quarantine", "Quarantine"


class Storage(models.Model):
    """A storage definition of a cluster, unique by name within it; admins set its class."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="storages")
    name = models.CharField(max_length=100)
    plugintype = models.CharField(max_length=50, blank=True)
    shared = models.BooleanField(default=False)
    content = models.JSONField(default=list, blank=True)
    storage_class = models.CharField(
        max_length=20, choices=StorageClass.choices, default=StorageClass.UNCLASSIFIED
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    gone_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster", "name"]
        verbose_name_plural = "storage"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                name="inventory_storage_unique_cluster_name",
                violation_error_message="A cluster has at most one storage of this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.name}"


class StorageNodeStatus(models.Model):
    """How one storage looks from one node (PVE lists a storage once per node it is enabled on)."""

    storage = models.ForeignKey(Storage, on_delete=models.CASCADE, related_name="node_statuses")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="storage_statuses")
    status = models.CharField(max_length=20, default="unknown")
    disk = models.PositiveBigIntegerField(default=0)
    maxdisk = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["storage", "node"]
        verbose_name_plural = "storage node statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["storage", "node"],
                name="inventory_storagestatus_unique_storage_node",
                violation_error_message="A storage has one status per node.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.storage_id}@{self.node_id}: {self.status}"


class Pool(models.Model):
    """A resource pool of a cluster, unique by name within it."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="pools")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                name="inventory_pool_unique_cluster_name",
                violation_error_message="A cluster has at most one pool of this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.name}"


class SyncRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


# Allowed moves of a run's status; a run ends once and stays ended.
SYNC_RUN_TRANSITIONS: dict[str, set[str]] = {
    SyncRunStatus.RUNNING: {SyncRunStatus.OK, SyncRunStatus.PARTIAL, SyncRunStatus.FAILED},
    SyncRunStatus.OK: set(),
    SyncRunStatus.PARTIAL: set(),
    SyncRunStatus.FAILED: set(),
}


class SyncRun(models.Model):
    """One sync of one cluster, created (``running``) before any work and finished exactly once.

    ``stats`` holds API calls per endpoint and counts of guests seen/created/updated/gone;
    ``error`` explains a ``partial`` or ``failed`` run in words an operator can act on.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="sync_runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING
    )
    full = models.BooleanField(default=False)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)

    class Meta:
        ordering = ["cluster", "-started_at"]
        indexes = [
            models.Index(fields=["cluster", "-started_at"], name="inventory_syncrun_cluster_idx"),
        ]

    def __str__(self) -> str:
        return f"sync {self.cluster_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"
