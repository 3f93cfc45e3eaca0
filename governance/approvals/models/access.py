"""Time-limited access: a Proxmox role on one VM for one user, from a start to an end.

Invariants:
- ``state`` moves only along ``GRANT_TRANSITIONS``, through the access services.
- ``starts_at < ends_at`` (a constraint). While ``active`` the ACL (``acl_path``,
  ``proxmox_userid``, ``role``) exists in Proxmox; ``ended``/``revoked`` mean it was removed
  and the grantee's console tasks stopped. The reconciler repairs grants whose start or
  end passed while nothing ran.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.approvals.models.requests import Request
from inventory.models import VirtualMachine


class GrantState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    REVOKED = "revoked", "Revoked"
    FAILED = "failed", "Failed"


GRANT_TRANSITIONS: dict[str, set[str]] = {
    GrantState.SCHEDULED: {
        GrantState.ACTIVE,
        GrantState.REVOKED,
        GrantState.ENDED,
        GrantState.FAILED,
    },
    GrantState.ACTIVE: {GrantState.ENDED, GrantState.REVOKED, GrantState.FAILED},
    # A failed start or end is retried by the reconciler.
    GrantState.FAILED: {GrantState.ACTIVE, GrantState.ENDED, GrantState.REVOKED},
    GrantState.ENDED: set(),
    GrantState.REVOKED: set(),
}


class AccessGrant(models.Model):
    """One user's Proxmox ``role`` on one VM between ``starts_at`` and ``ends_at``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants"
    )
    vm = models.ForeignKey(VirtualMachine, on_delete=models.PROTECT, related_name="access_grants")
    role = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(
        max_length=10, choices=GrantState.choices, default=GrantState.SCHEDULED
    )
    proxmox_userid = models.CharField(max_length=200, blank=True)
    acl_path = models.CharField(max_length=200, blank=True)
    request = models.ForeignKey(
        Request, on_delete=models.PROTECT, null=True, blank=True, related_name="access_grants"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="revoked_access_grants",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["-starts_at", "-id"], name="approvals_grant_order_idx"),
            models.Index(fields=["state", "starts_at"], name="approvals_grant_start_idx"),
            models.Index(fields=["state", "ends_at"], name="approvals_grant_end_idx"),
            models.Index(fields=["user", "state"], name="approvals_grant_user_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_at__lt=models.F("ends_at")),
                name="approvals_grant_starts_before_end",
                violation_error_message="Access must start before it ends.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} on {self.vm_id} for {self.user_id}"
