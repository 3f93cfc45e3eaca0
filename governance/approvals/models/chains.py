"""Approval chains (admin-defined, per kind and scope) and the decisions made on requests.

Invariants:
- A chain matches a request when its ``kind`` equals the request's and every scope field
  it sets (``classification``, ``cluster``, ``cross_cluster``) matches; among matching
  enabled chains the lowest ``priority`` wins (ties: lowest id). No matching chain means
  the built-in default (one step: the team's manager).
- ``any_of`` steps need one approval from any one of the eligible approvers (whoever
  decides first; the others cannot also decide it). ``all_of`` steps need ``required``
  distinct eligible approvers ("N of the eligible approvers"), not every eligible person:
  steps name approvers by rule (team managers, a role, a group), never a fixed list.
- Separation of duties, enforced by the services and backed by constraints here: nobody
  approves their own request (``approver != requester``) and one person holds at most
  one valid (not voided) decision per request, so cannot fill two steps.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.accounts.models import Team
from governance.approvals.models.requests import Request, RequestKind, RequestStep
from inventory.models import Classification, Cluster


class ApproverRule(models.TextChoices):
    TEAM_MANAGER = "team_manager", "Manager of the team"
    ROLE = "role", "Holder of a role"
    GROUP = "group", "Member of a group"


class StepMode(models.TextChoices):
    ANY_OF = "any_of", "Any one of the eligible approvers"
    ALL_OF = "all_of", "N of the eligible approvers (N: Required)"


def step_needs(mode: str, required: int) -> str:
    """What a step needs, in the words the pages, the API and the form preview use."""
    if mode == StepMode.ALL_OF and required > 1:
        return f"{required} of the eligible approvers"
    return "any one of the eligible approvers"


class ApprovalChain(models.Model):
    """The approvals one kind of request needs within a scope; see the module docstring.

    Auto-approval: when ``auto_approve`` is set, a request whose size is within every set
    threshold (``auto_max_cores``, ``auto_max_memory_mib``, ``auto_max_disk_gib``) and whose
    classification is not above ``auto_max_classification`` (blank: any) skips the steps.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    enabled = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(default=100)
    classification = models.CharField(max_length=10, choices=Classification.choices, blank=True)
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, null=True, blank=True, related_name="approval_chains"
    )
    # None: any; True: only moves/copies to another cluster; False: only within one.
    cross_cluster = models.BooleanField(null=True, blank=True)
    auto_approve = models.BooleanField(default=False)
    auto_max_cores = models.PositiveIntegerField(null=True, blank=True)
    auto_max_memory_mib = models.PositiveIntegerField(null=True, blank=True)
    auto_max_disk_gib = models.PositiveIntegerField(null=True, blank=True)
    auto_max_classification = models.CharField(
        max_length=10, choices=Classification.choices, blank=True
    )
    # Hours a pending request waits for a decision before it expires (None: never).
    expire_after_hours = models.PositiveIntegerField(null=True, blank=True, default=72)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_chains",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "priority", "id"]
        indexes = [
            models.Index(fields=["kind", "priority", "id"], name="approvals_chain_order_idx")
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """One step of a chain; ``position`` 0 is decided first."""

    chain = models.ForeignKey(ApprovalChain, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    approver_rule = models.CharField(max_length=20, choices=ApproverRule.choices)
    role = models.CharField(max_length=20, blank=True)
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_steps",
    )
    # A fixed team for team_manager (blank: the request's team).
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="chain_steps"
    )
    mode = models.CharField(max_length=10, choices=StepMode.choices, default=StepMode.ANY_OF)
    required = models.PositiveSmallIntegerField(
        default=1,
        help_text="How many different eligible approvers must approve: 1 for any one; "
        "N for N of them (not necessarily all of them).",
    )

    class Meta:
        ordering = ["chain", "position"]
        indexes = [models.Index(fields=["chain", "position"], name="approvals_step_order_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "position"],
                name="approvals_step_unique_position",
                violation_error_message="A chain has one step per position.",
            ),
            models.CheckConstraint(
                condition=models.Q(required__gte=1)
                & (~models.Q(mode="any_of") | models.Q(required=1)),
                name="approvals_step_required_matches_mode",
                violation_error_message="An any-of step needs exactly one approval.",
            ),
            models.CheckConstraint(
                condition=~models.Q(approver_rule="role") | ~models.Q(role=""),
                name="approvals_step_role_named",
                violation_error_message="A role step names its role.",
            ),
            models.CheckConstraint(
                condition=~models.Q(approver_rule="group") | models.Q(group__isnull=False),
                name="approvals_step_group_named",
                violation_error_message="A group step names its group.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain_id}/{self.position} {self.name}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class Approval(models.Model):
    """One person's decision on one step of one revision of a request.

    ``requester`` repeats the request's requester so the database itself refuses a
    self-approval. ``voided_at`` is set (once) when the request changed after this
    decision; voided rows stay for the timeline but count for nothing.
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="approvals")
    step = models.ForeignKey(RequestStep, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    revision = models.PositiveIntegerField()
    at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "at", "id"]
        indexes = [
            models.Index(fields=["request", "at", "id"], name="approvals_approval_order_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(approver=models.F("requester")),
                name="approvals_approval_not_own",
                violation_error_message="Nobody approves their own request.",
            ),
            models.UniqueConstraint(
                fields=["request", "approver"],
                condition=models.Q(voided_at__isnull=True),
                name="approvals_approval_one_per_person",
                violation_error_message="One person cannot fill two steps of a request.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.decision} by {self.approver_id} (rev {self.revision})"
