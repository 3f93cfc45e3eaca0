"""Violations (what a policy found) and remediations (what enforce mode does about them).

A ``Violation`` is opened, refreshed and resolved only by
``policy.services.violations_record``, level-triggered: while a finding keeps being
produced its violation stays open (``last_seen`` advances); when it stops, the violation
is resolved once (``resolved_at`` set, never cleared: a recurrence opens a new row).

A ``Remediation`` is an audited run: its row exists (``pending``) before anything is
queued, and only the remediation services move its ``state`` along
``REMEDIATION_TRANSITIONS`` (under ``select_for_update``), so it never runs twice. At
most one remediation per VM is active (``pending`` or ``running``) at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inventory.models import Cluster, VirtualMachine
from policy.models.policies import Policy


class RemediationState(models.TextChoices):
    """The remediation state of a violation (the newest remediation's, or none/waived)."""

    NONE = "none", "None"
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    NOT_POSSIBLE = "not_possible", "Not possible"
    WAIVED = "waived", "Waived (exempted)"
    # Proxmox took the removal but applies it only when the guest next starts cold.
    REMOVAL_PENDING = "removal_pending", "Removal pending until the guest's next cold start"


class Violation(models.Model):
    """One finding (``rule_key``) of one policy on one VM, open while ``resolved_at`` is null.

    At most one open row per (policy, vm, rule_key); for findings about a cluster rather
    than a VM (an ACL on ``/``), ``vm`` is null and at most one open row per
    (policy, cluster, rule_key). ``evidence`` says what was seen (config line, node,
    snapshot, storage, ACL path...).
    """

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="violations")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="violations")
    vm = models.ForeignKey(
        VirtualMachine,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="policy_violations",
    )
    rule_key = models.CharField(max_length=100)
    summary = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict, blank=True)
    first_detected = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    remediation_state = models.CharField(
        max_length=20, choices=RemediationState.choices, default=RemediationState.NONE
    )

    class Meta:
        ordering = ["-first_detected", "-id"]
        indexes = [
            models.Index(fields=["-first_detected", "-id"], name="policy_violation_order_idx"),
            models.Index(fields=["vm", "resolved_at"], name="policy_violation_vm_idx"),
            models.Index(fields=["policy", "resolved_at"], name="policy_violation_policy_idx"),
            models.Index(
                fields=["cluster"],
                condition=models.Q(resolved_at__isnull=True),
                name="policy_violation_open_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "vm", "rule_key"],
                condition=models.Q(resolved_at__isnull=True, vm__isnull=False),
                name="policy_violation_one_open_per_vm",
                violation_error_message="This finding is already open for this VM.",
            ),
            models.UniqueConstraint(
                fields=["policy", "cluster", "rule_key"],
                condition=models.Q(resolved_at__isnull=True, vm__isnull=True),
                name="policy_violation_one_open_per_cluster",
                violation_error_message="This finding is already open for this cluster.",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True)
                | models.Q(resolved_at__gte=models.F("first_detected")),
                name="policy_violation_resolved_after_detected",
                violation_error_message="A violation cannot be resolved before it was detected.",
            ),
        ]

    def __str__(self) -> str:
        where = self.vm_id if self.vm_id is not None else f"cluster {self.cluster_id}"
        return f"{self.policy_id}/{self.rule_key} on {where}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ActionKind(models.TextChoices):
    """What a remediation does in Proxmox; the parameters of each: ``policy.findings``."""

    REMOVE_DEVICE = "remove_device", "Remove a device"
    DETACH_MEDIA = "detach_media", "Detach CD-ROM media"
    SET_CONFIG = "set_config", "Set a config option"
    MIGRATE = "migrate", "Migrate back to an allowed node"
    HA_PIN = "ha_pin", "Pin through HA (node affinity rule or restricted group)"
    BACKUP_EXCLUDE = "backup_exclude", "Exclude from a backup job"
    SNAPSHOT_DELETE = "snapshot_delete", "Delete a snapshot"
    BACKUP_DELETE = "backup_delete", "Delete a backup"
    DELETION_REQUEST = "deletion_request", "Ask for a copy's deletion through a request"
    QUARANTINE_APPLY = "quarantine_apply", "Apply quarantine"
    QUARANTINE_LIFT = "quarantine_lift", "Lift quarantine"
    STOP = "stop", "Stop the guest"
    ACL_DELETE = "acl_delete", "Delete an ACL entry"


class RemediationRunState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    NOT_POSSIBLE = "not_possible", "Not possible"
    CANCELLED = "cancelled", "Cancelled"


# Allowed moves of a remediation's state. Running -> pending is a retry later (a locked
# VM, a stale digest): ``attempts`` and ``next_attempt_at`` say when.
REMEDIATION_TRANSITIONS: dict[str, set[str]] = {
    RemediationRunState.PENDING: {
        RemediationRunState.RUNNING,
        RemediationRunState.CANCELLED,
        RemediationRunState.NOT_POSSIBLE,
    },
    RemediationRunState.RUNNING: {
        RemediationRunState.PENDING,
        RemediationRunState.DONE,
        RemediationRunState.FAILED,
        RemediationRunState.NOT_POSSIBLE,
    },
    RemediationRunState.DONE: set(),
    RemediationRunState.FAILED: set(),
    RemediationRunState.NOT_POSSIBLE: set(),
    RemediationRunState.CANCELLED: set(),
}

ACTIVE_REMEDIATION_STATES = (RemediationRunState.PENDING, RemediationRunState.RUNNING)


class Remediation(models.Model):
    """One remediation run of one violation (or, to lift it, one quarantine): an ``action``
    with ``params`` (``policy.findings.Action.params``), created ``pending`` before it
    is queued.

    ``vm`` copies ``violation.vm`` so that "one active remediation per VM" is a
    constraint; ``cluster`` likewise for cluster-level actions. ``upid`` is the Proxmox
    task being polled; ``log`` grows line by line; ``error`` explains a failure.
    """

    violation = models.ForeignKey(
        Violation, on_delete=models.PROTECT, null=True, blank=True, related_name="remediations"
    )
    # Set instead of ``violation`` for lifting a quarantine whose causes are all resolved.
    quarantine = models.ForeignKey(
        "policy.Quarantine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remediations",
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="remediations")
    vm = models.ForeignKey(
        VirtualMachine,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="policy_remediations",
    )
    action = models.CharField(max_length=30, choices=ActionKind.choices)
    params = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, blank=True)
    state = models.CharField(
        max_length=20, choices=RemediationRunState.choices, default=RemediationRunState.PENDING
    )
    dry_run = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    upid = models.CharField(max_length=200, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policy_remediations",
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="policy_remediation_order_idx"),
            models.Index(fields=["violation", "created_at"], name="policy_remediation_viol_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="policy_remediation_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(state__in=["pending", "running"], dry_run=False),
                name="policy_remediation_one_active_per_vm",
                violation_error_message="This VM already has a remediation in progress.",
            ),
            models.CheckConstraint(
                condition=models.Q(violation__isnull=False) | models.Q(quarantine__isnull=False),
                name="policy_remediation_has_reason",
                violation_error_message="A remediation belongs to a violation or a quarantine.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} for violation {self.violation_id} ({self.state})"
