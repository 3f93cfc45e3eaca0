"""Policies as data, their version history, and time-limited exemptions.

A ``Policy`` is only written by ``policy.services.policy_save`` (validated, versioned,
audited). Every saved version is also kept whole as a ``PolicyVersion`` row, which is
append-only. Policies are retired by disabling them, never deleted: violations,
versions and exemptions point at them with ``PROTECT``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inventory.models import VirtualMachine


class PolicyKind(models.TextChoices):
    HOST_PINNING = "host_pinning", "Host pinning"
    NO_REMOVABLE_MEDIA = "no_removable_media", "No removable media"
    COPY_LIMITS = "copy_limits", "Copy limits"
    DATA_LIFETIME = "data_lifetime", "Data lifetime"
    DORMANCY_QUARANTINE = "dormancy_quarantine", "Dormancy / patch debt"
    ROLLBACK_AWARENESS = "rollback_awareness", "Rollback awareness"
    OWNERSHIP_REQUIRED = "ownership_required", "Ownership required"
    LEASE_EXPIRED = "lease_expired", "Lease expired"
    IDENTITY_CONFLICTS = "identity_conflicts", "Identity conflicts"
    UNBACKED_ACL = "unbacked_acl", "Unbacked Proxmox ACL"


class PolicyMode(models.TextChoices):
    AUDIT = "audit", "Audit (report only)"
    ENFORCE = "enforce", "Enforce (remediate)"


class Policy(models.Model):
    """A rule of one ``kind`` applied to the VMs its ``scope`` selects; ``name`` is unique.

    ``scope`` is ``{"clusters", "pools", "tags", "classifications", "teams", "vms"}``
    (lists; cluster names, pool names, tags, classification values, team slugs, VM ids);
    a VM is in scope when it matches every non-empty key; a scope with no non-empty key
    is refused. ``parameters`` are validated per kind (``policy.rules``). ``version``
    counts saves from 1 and equals the newest ``PolicyVersion.version``.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=30, choices=PolicyKind.choices)
    scope = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=PolicyMode.choices, default=PolicyMode.AUDIT)
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies_created",
    )
    created_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies_updated",
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        # The unique constraint on name doubles as the ordering index.
        indexes = [models.Index(fields=["enabled", "kind"], name="policy_enabled_kind_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__gte=1),
                name="policy_version_positive",
                violation_error_message="A policy version starts at 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """The whole policy document as saved at one ``version``; append-only, one per version."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policy_versions",
    )
    changed_at = models.DateTimeField()
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [
            # Also the ordering index.
            models.UniqueConstraint(
                fields=["policy", "version"],
                name="policy_version_unique",
                violation_error_message="This policy version is already recorded.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class Exemption(models.Model):
    """Excuses one VM from one policy (or one finding key of it) until ``until``.

    Granted through an approved request (``request_id``) and never by the VM's own owner
    (checked by the service); an exemption is over once ``until`` passed or
    ``revoked_at`` is set. ``rule_key`` empty means every finding of the policy.
    """

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="exemptions")
    vm = models.ForeignKey(
        VirtualMachine, on_delete=models.CASCADE, related_name="policy_exemptions"
    )
    rule_key = models.CharField(max_length=100, blank=True)
    until = models.DateTimeField()
    reason = models.TextField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_exemptions"
    )
    granted_at = models.DateTimeField()
    request_id = models.BigIntegerField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "vm", "-until", "id"]
        indexes = [
            models.Index(
                fields=["policy", "vm", "-until", "id"], name="policy_exemption_order_idx"
            ),
            models.Index(fields=["until"], name="policy_exemption_until_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__gt=models.F("granted_at")),
                name="policy_exemption_until_after_grant",
                violation_error_message="An exemption must end after it is granted.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} exempts {self.vm_id} until {self.until:%Y-%m-%d}"
