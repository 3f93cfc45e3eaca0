"""Who answers for each VM, and how that changed: the ownership ledger and its workflows.

The ledger (``Ownership``) is append-only: a change closes the current row (sets
``until``) and opens a new one; no other field of a row is ever updated. Claims and
transfers are small state machines whose allowed moves are the ``*_TRANSITIONS`` dicts
beside them; only ``governance.ownership.services`` moves them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.accounts.models import Team
from inventory.models import Cluster, VirtualMachine


class OwnershipSource(models.TextChoices):
    ADMIN = "admin", "Assigned by an admin"
    BULK = "bulk", "Bulk assignment"
    RULE = "rule", "Ownership rule"
    CLAIM = "claim", "Approved claim"
    TRANSFER = "transfer", "Approved transfer"
    BIRTH = "birth", "Created through Steward"
    DEACTIVATION = "deactivation", "A holder was deactivated"
    LEASE = "lease", "Lease changed"


class Ownership(models.Model):
    """One period of a VM's ownership; at most one current row (``until`` null) per VM.

    ``set_by`` null means the system (a rule, a deactivation). A VM with no row, or whose
    current row has no owner, is unowned.
    """

    vm = models.ForeignKey(VirtualMachine, on_delete=models.PROTECT, related_name="ownerships")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_vms",
    )
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="custodian_of_vms",
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="ownerships"
    )
    lease_end = models.DateField(null=True, blank=True)
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ownerships_set",
    )
    source = models.CharField(max_length=20, choices=OwnershipSource.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["vm", "-since", "-id"]
        # Classification is a VM field, but setting it is an ownership decision.
        permissions = [("set_classification", "Can set the data classification of VMs")]
        indexes = [
            models.Index(fields=["vm", "-since", "-id"], name="ownership_vm_since_idx"),
            # Visibility and dashboards read current rows only.
            models.Index(
                fields=["owner"],
                condition=models.Q(until__isnull=True),
                name="ownership_current_owner_idx",
            ),
            models.Index(
                fields=["custodian"],
                condition=models.Q(until__isnull=True),
                name="ownership_current_cust_idx",
            ),
            models.Index(
                fields=["team"],
                condition=models.Q(until__isnull=True),
                name="ownership_current_team_idx",
            ),
            models.Index(
                fields=["lease_end"],
                condition=models.Q(until__isnull=True, lease_end__isnull=False),
                name="ownership_current_lease_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(until__isnull=True),
                name="ownership_one_current_per_vm",
                violation_error_message="A VM has one current ownership record.",
            ),
            models.CheckConstraint(
                condition=models.Q(until__isnull=True) | models.Q(until__gte=models.F("since")),
                name="ownership_until_after_since",
                violation_error_message="An ownership period cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        holder = self.owner or self.team or "nobody"
        return f"{self.vm_id}: {holder} since {self.since:%Y-%m-%d}"

    @property
    def is_current(self) -> bool:
        return self.until is None


class OwnershipRule(models.Model):
    """Maps new guests to a team (and optionally an owner) by where they are or their name.

    Every non-empty match field must match (AND); a rule with no match field is refused
    by the service. The enabled rule with the lowest ``priority`` (then id) wins.
    """

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, null=True, blank=True, related_name="ownership_rules"
    )
    pool = models.CharField(max_length=100, blank=True)
    tag_pattern = models.CharField(max_length=100, blank=True, help_text="Shell glob, e.g. web-*")
    name_regex = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="ownership_rules")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ownership_rules",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ownership_rules_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["priority", "id"], name="ownership_rule_order_idx")]

    def __str__(self) -> str:
        return self.name


class ClaimState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


CLAIM_TRANSITIONS: dict[str, set[str]] = {
    ClaimState.PENDING: {ClaimState.APPROVED, ClaimState.REJECTED, ClaimState.CANCELLED},
    ClaimState.APPROVED: set(),
    ClaimState.REJECTED: set(),
    ClaimState.CANCELLED: set(),
}


class Claim(models.Model):
    """A user asks to own an unowned VM for one of their teams; a manager of it decides.

    At most one pending claim per VM.
    """

    vm = models.ForeignKey(VirtualMachine, on_delete=models.PROTECT, related_name="claims")
    claimant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="claims")
    state = models.CharField(max_length=10, choices=ClaimState.choices, default=ClaimState.PENDING)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claims_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="ownership_claim_order_idx"),
            models.Index(fields=["team", "state"], name="ownership_claim_team_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(state="pending"),
                name="ownership_claim_one_pending_per_vm",
                violation_error_message="This VM already has a pending claim.",
            ),
        ]

    def __str__(self) -> str:
        return f"claim of {self.vm_id} by {self.claimant} ({self.state})"


class TransferState(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted, awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


TRANSFER_TRANSITIONS: dict[str, set[str]] = {
    TransferState.OFFERED: {
        TransferState.ACCEPTED,
        TransferState.REJECTED,
        TransferState.CANCELLED,
    },
    TransferState.ACCEPTED: {
        TransferState.APPROVED,
        TransferState.REJECTED,
        TransferState.CANCELLED,
    },
    TransferState.APPROVED: set(),
    TransferState.REJECTED: set(),
    TransferState.CANCELLED: set(),
}
TRANSFER_OPEN_STATES = (TransferState.OFFERED, TransferState.ACCEPTED)


class Transfer(models.Model):
    """The owner offers a VM to someone; they accept; a manager of ``to_team`` approves.

    At most one open (offered or accepted) transfer per VM.
    """

    vm = models.ForeignKey(VirtualMachine, on_delete=models.PROTECT, related_name="transfers")
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_offered"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_received"
    )
    to_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="transfers")
    state = models.CharField(
        max_length=10, choices=TransferState.choices, default=TransferState.OFFERED
    )
    reason = models.TextField(blank=True)
    offered_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_decided",
    )
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-offered_at", "-id"]
        indexes = [
            models.Index(fields=["-offered_at", "-id"], name="ownership_transfer_order_idx"),
            models.Index(fields=["to_user", "state"], name="ownership_transfer_to_idx"),
            models.Index(fields=["to_team", "state"], name="ownership_transfer_team_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["vm"],
                condition=models.Q(state__in=["offered", "accepted"]),
                name="ownership_transfer_one_open_per_vm",
                violation_error_message="This VM already has an open transfer.",
            ),
            models.CheckConstraint(
                condition=~models.Q(from_user=models.F("to_user")),
                name="ownership_transfer_not_to_self",
                violation_error_message="A VM cannot be transferred to its own owner.",
            ),
        ]

    def __str__(self) -> str:
        return f"transfer of {self.vm_id} to {self.to_user} ({self.state})"


class LeaseThreshold(models.TextChoices):
    DAYS_14 = "14", "14 days left"
    DAYS_7 = "7", "7 days left"
    DAYS_1 = "1", "1 day left"
    EXPIRED = "expired", "Expired"


class LeaseWarning(models.Model):
    """A lease warning that was sent; each (VM, lease end, threshold) is sent once."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="lease_warnings")
    lease_end = models.DateField()
    threshold = models.CharField(max_length=10, choices=LeaseThreshold.choices)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["-sent_at", "-id"], name="ownership_leasewarn_order_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["vm", "lease_end", "threshold"],
                name="ownership_leasewarn_once",
                violation_error_message="This lease warning was already sent.",
            ),
        ]

    def __str__(self) -> str:
        return f"lease of {self.vm_id} ending {self.lease_end}: {self.threshold}"


class SprawlSample(models.Model):
    """Live VMs per team (null: no team) at the start of one ISO week (a Monday); one per pair."""

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="sprawl_samples"
    )
    week = models.DateField()
    vm_count = models.PositiveIntegerField(default=0)
    cpu = models.PositiveBigIntegerField(default=0)
    mem = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["week", "team"]
        indexes = [models.Index(fields=["week", "team"], name="ownership_sprawl_order_idx")]
        constraints = [
            # Two partial constraints, because NULLs never collide in a plain unique one.
            models.UniqueConstraint(
                fields=["team", "week"],
                condition=models.Q(team__isnull=False),
                name="ownership_sprawl_unique_team_week",
                violation_error_message="This team already has a sample for the week.",
            ),
            models.UniqueConstraint(
                fields=["week"],
                condition=models.Q(team__isnull=True),
                name="ownership_sprawl_unique_noteam_week",
                violation_error_message="The unowned VMs already have a sample for the week.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team or 'no team'} {self.week}: {self.vm_count}"
