"""Requests: what someone asked Steward to do, and how far it got.

Invariants:
- ``state`` moves only along ``REQUEST_TRANSITIONS`` and only through
  ``governance.approvals.services``; each move is a ``RequestEvent`` and an audit event.
- ``revision`` starts at 1 and grows by one each time the request's substance
  (``parameters``, ``justification``, target) changes; approvals record the revision they
  approved, and a change voids every approval of an older revision.
- ``idempotency_key`` is unique: a second submit with the same key (a double click) returns
  the first request instead of creating another.
- ``steps`` are copied from the matching ``ApprovalChain`` when the request is submitted, so
  an admin editing the chain later does not change what an open request needs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.accounts.models import Team
from inventory.models import Cluster, VirtualMachine


class RequestKind(models.TextChoices):
    PROVISION = "provision", "Provision a VM"
    IMPORT = "import", "Import a VM"
    EXPORT = "export", "Export a VM"
    MIGRATE = "migrate", "Migrate a VM"
    CLONE = "clone", "Clone a VM"
    ROLLBACK = "rollback", "Roll back to a snapshot"
    SNAPSHOT_DELETE = "snapshot_delete", "Delete a snapshot"
    BACKUP_DELETE = "backup_delete", "Delete a backup"
    OWNERSHIP_TRANSFER = "ownership_transfer", "Transfer ownership"
    EXCEPTION = "exception", "Policy exception"
    ACCESS = "access", "Time-limited access"


class RequestState(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    EXECUTING = "executing", "Executing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


REQUEST_TRANSITIONS: dict[str, set[str]] = {
    RequestState.PENDING: {
        RequestState.APPROVED,
        RequestState.REJECTED,
        RequestState.EXPIRED,
        RequestState.CANCELLED,
    },
    RequestState.APPROVED: {RequestState.EXECUTING, RequestState.CANCELLED},
    # An admin cancels a running execution: it stops at the next step boundary.
    RequestState.EXECUTING: {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.CANCELLED},
    # An admin retries a failed execution from its failed step, or gives up on it.
    RequestState.FAILED: {RequestState.EXECUTING, RequestState.CANCELLED},
    RequestState.REJECTED: set(),
    RequestState.EXPIRED: set(),
    RequestState.CANCELLED: set(),
    RequestState.SUCCEEDED: set(),
}
#: States in which nobody decides on the request any more.
DECIDED_STATES = frozenset(REQUEST_TRANSITIONS) - {RequestState.PENDING}
#: States in which the request's parameters may still change (voiding approvals).
OPEN_STATES = frozenset({RequestState.PENDING})


class Request(models.Model):
    """One request of one kind; at most one per ``idempotency_key``.

    ``vm`` is the target guest (null for provision and import, which create one);
    ``cluster`` is where the work happens; ``team`` is the team whose managers approve
    (the VM's team, or the requester's chosen team for a new VM). ``parameters`` is the
    kind's validated form data (JSON-safe: ids, names, ISO dates).
    """

    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests"
    )
    vm = models.ForeignKey(
        VirtualMachine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_requests",
    )
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="approval_requests"
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="approval_requests"
    )
    parameters = models.JSONField(default=dict, blank=True)
    justification = models.TextField(blank=True)
    state = models.CharField(
        max_length=10, choices=RequestState.choices, default=RequestState.PENDING
    )
    revision = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=64, unique=True)
    chain = models.ForeignKey(
        "approvals.ApprovalChain",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
    )
    auto_approved = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="approvals_request_order_idx"),
            # The approvers' inbox: pending, oldest first.
            models.Index(fields=["state", "created_at", "id"], name="approvals_request_state_idx"),
            models.Index(fields=["requester", "-created_at"], name="approvals_request_mine_idx"),
            models.Index(fields=["vm", "-created_at"], name="approvals_request_vm_idx"),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(state="pending"),
                name="approvals_request_expiry_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revision__gte=1),
                name="approvals_request_revision_positive",
                violation_error_message="A request's revision starts at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class RequestStep(models.Model):
    """One approval step a request needs, copied from its chain at submission.

    ``position`` orders the steps (0 first); a step is satisfied when ``required`` distinct
    valid (not voided) approvals of the current revision exist for it. ``approver_rule``
    and its operands (``role``, ``group_name``, ``team``) say who may approve.
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    approver_rule = models.CharField(max_length=20)
    role = models.CharField(max_length=20, blank=True)
    group_name = models.CharField(max_length=150, blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="approval_steps"
    )
    mode = models.CharField(max_length=10)
    required = models.PositiveSmallIntegerField(default=1)
    satisfied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "position"]
        indexes = [models.Index(fields=["request", "position"], name="approvals_rstep_order_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "position"],
                name="approvals_rstep_unique_position",
                violation_error_message="A request has one step per position.",
            ),
            models.CheckConstraint(
                condition=models.Q(required__gte=1),
                name="approvals_rstep_required_positive",
                violation_error_message="A step needs at least one approval.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.position} {self.name}"


class RequestEventKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    UPDATED = "updated", "Changed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    VOIDED = "voided", "Approvals voided"
    STATE = "state", "State changed"
    STEP = "step", "Execution step"
    TASK = "task", "Proxmox task"
    COMMENT = "comment", "Comment"


class RequestEvent(models.Model):
    """One line of a request's timeline; append-only, never changed after insert.

    ``actor`` null means the system (auto-approval, the execution engine, expiry).
    ``data`` carries what the line needs to render (state from/to, step name, UPID).
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_request_events",
    )
    kind = models.CharField(max_length=10, choices=RequestEventKind.choices)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["request", "at", "id"]
        indexes = [models.Index(fields=["request", "at", "id"], name="approvals_event_order_idx")]

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind} {self.at:%Y-%m-%d %H:%M:%S}"
