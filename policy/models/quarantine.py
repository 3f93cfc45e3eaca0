"""Quarantines, owners' patch confirmations, and the Proxmox ACL entries Steward backs.

A ``Quarantine`` is opened by the reconciler when a finding asks for one and closed once
(``lifted_at``) when its cause is resolved; ``applied_state`` is moved only by the
quarantine services (apply -> verify by reading back -> lift). ``PatchConfirmation`` is
append-only: an owner or custodian saying the guest is patched (and re-keyed) after a
dormancy or a rollback. ``RightsAssignment`` rows are the ACL entries Steward wants on a
cluster beyond the owner/custodian role on their VMs (e.g. a time-limited grant).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inventory.models import Cluster, VirtualMachine
from policy.models.policies import Policy


class QuarantineCause(models.TextChoices):
    DORMANCY = "dormancy", "Dormant past the limit"
    ROLLBACK = "rollback", "Rolled back"
    LEASE_EXPIRED = "lease_expired", "Lease expired"
    MANUAL = "manual", "Quarantined by a security officer"


class QuarantineState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"
    LIFTING = "lifting", "Lifting"
    LIFTED = "lifted", "Lifted"


QUARANTINE_TRANSITIONS: dict[str, set[str]] = {
    QuarantineState.PENDING: {QuarantineState.APPLIED, QuarantineState.FAILED},
    QuarantineState.APPLIED: {
        QuarantineState.VERIFIED,
        QuarantineState.FAILED,
        QuarantineState.LIFTING,
    },
    QuarantineState.VERIFIED: {QuarantineState.APPLIED, QuarantineState.LIFTING},
    QuarantineState.FAILED: {QuarantineState.PENDING, QuarantineState.LIFTING},
    QuarantineState.LIFTING: {QuarantineState.LIFTED, QuarantineState.FAILED},
    QuarantineState.LIFTED: set(),
}


class Quarantine(models.Model):
    """A period a VM is (to be) fenced by the quarantine firewall group; at most one open
    (``lifted_at`` null) per VM."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="quarantines")
    cause = models.CharField(max_length=20, choices=QuarantineCause.choices)
    reason = models.TextField(blank=True)
    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, null=True, blank=True, related_name="quarantines"
    )
    since = models.DateTimeField()
    applied_state = models.CharField(
        max_length=10, choices=QuarantineState.choices, default=QuarantineState.PENDING
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quarantines_lifted",
    )

    class Meta:
        ordering = ["-since", "-id"]
        indexes = [
            models.Index(fields=["-since", "-id"], name="policy_quarantine_order_idx"),
            models.Index(fields=["vm", "since"], name="policy_quarantine_vm_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(lifted_at__isnull=True),
                name="policy_quarantine_one_open",
                violation_error_message="This VM is already quarantined.",
            ),
        ]

    def __str__(self) -> str:
        return f"quarantine of {self.vm_id} since {self.since:%Y-%m-%d %H:%M} ({self.cause})"


class PatchConfirmation(models.Model):
    """An owner's or custodian's word that the VM is patched and re-keyed at ``confirmed_at``.

    Ends the patch debt of a dormancy or rollback that happened before ``confirmed_at``.
    """

    vm = models.ForeignKey(
        VirtualMachine, on_delete=models.CASCADE, related_name="patch_confirmations"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patch_confirmations"
    )
    confirmed_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["vm", "-confirmed_at", "-id"]
        indexes = [
            models.Index(fields=["vm", "-confirmed_at", "-id"], name="policy_patchconf_vm_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.vm_id} patched {self.confirmed_at:%Y-%m-%d %H:%M}"


class RightsAssignment(models.Model):
    """An ACL entry Steward backs on a cluster besides the owner/custodian role on their VMs;
    unique as a whole; gone once ``until`` passed (null = no end)."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="rights_assignments"
    )
    path = models.CharField(max_length=300)
    ugid = models.CharField(max_length=200)
    roleid = models.CharField(max_length=100)
    vm = models.ForeignKey(
        VirtualMachine,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rights_assignments",
    )
    reason = models.CharField(max_length=300, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster", "path", "ugid", "roleid"]
        constraints = [
            # Also the ordering index.
            models.UniqueConstraint(
                fields=["cluster", "path", "ugid", "roleid"],
                name="policy_rights_unique",
                violation_error_message="Steward already backs this ACL entry.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path} {self.ugid} {self.roleid}"
