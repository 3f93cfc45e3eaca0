"""Executions of approved requests and their steps; see ``governance.approvals.execution``.

Invariants:
- One ``Execution`` per request; a retry reuses it and resumes from its failed step.
- ``ExecutionStep`` rows are created all at once when the execution starts (one per step
  of the kind, ``position`` 0 first) and are executed in order.
- A step is executed at most once: the engine moves it ``pending -> running`` under
  ``select_for_update`` and commits before calling Proxmox, stamping ``claim`` (a fresh
  token) and ``lease_until``. A step found ``running`` after its lease (the worker died)
  with no ``upid`` is first looked up in Proxmox's task history before anything re-runs.
- ``state`` moves only along ``EXECUTION_TRANSITIONS`` / ``STEP_TRANSITIONS``.
- A step's ``upid`` belongs to ``task_cluster`` (a cross-cluster move follows a task on
  another cluster than the request's); polls and stops go there, after a restart too.
- ``cancel_requested_at`` set on a running execution means no further step starts: the
  engine ends it ``cancelled`` at the next step boundary.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.approvals.models.requests import Request


class ExecutionState(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


EXECUTION_TRANSITIONS: dict[str, set[str]] = {
    ExecutionState.RUNNING: {
        ExecutionState.SUCCEEDED,
        ExecutionState.FAILED,
        ExecutionState.CANCELLED,
    },
    ExecutionState.FAILED: {ExecutionState.RUNNING, ExecutionState.CANCELLED},
    ExecutionState.SUCCEEDED: set(),
    ExecutionState.CANCELLED: set(),
}


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING_TASK = "waiting_task", "Waiting for the Proxmox task"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


STEP_TRANSITIONS: dict[str, set[str]] = {
    StepState.PENDING: {StepState.RUNNING, StepState.SKIPPED},
    StepState.RUNNING: {
        StepState.WAITING_TASK,
        StepState.DONE,
        StepState.FAILED,
        StepState.SKIPPED,
        # A transient error before anything was started in Proxmox: try again later.
        StepState.PENDING,
    },
    StepState.WAITING_TASK: {StepState.DONE, StepState.FAILED},
    # An admin's retry re-opens the failed step.
    StepState.FAILED: {StepState.PENDING},
    StepState.DONE: set(),
    StepState.SKIPPED: set(),
}


class Execution(models.Model):
    """The run of one approved request; ``current`` is the position of the step in hand.

    ``next_run_at`` is when the engine wants to look at it again (a poll, a backoff); the
    resume beat re-queues running executions whose ``next_run_at`` is overdue, which is how
    work survives a lost message, a worker or a broker restart.
    """

    request = models.OneToOneField(Request, on_delete=models.CASCADE, related_name="execution")
    state = models.CharField(
        max_length=10, choices=ExecutionState.choices, default=ExecutionState.RUNNING
    )
    current = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="executions_cancelled",
    )
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="approvals_exec_order_idx"),
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(state="running"),
                name="approvals_exec_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"execution of {self.request_id} ({self.state})"


class ExecutionStep(models.Model):
    """One step of an execution: its state, Proxmox task, log and what it learnt.

    ``result`` holds facts later steps need (a new vmid, the node a guest landed on);
    ``log_offset`` is how many task-log lines were already copied into ``log``;
    ``task_cluster`` is the cluster whose API answers for ``upid``.
    """

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=50)
    label = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=12, choices=StepState.choices, default=StepState.PENDING)
    upid = models.CharField(max_length=200, blank=True)
    task_cluster = models.ForeignKey(
        "inventory.Cluster",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="execution_steps",
    )
    log = models.TextField(blank=True)
    log_offset = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claim = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "position"]
        indexes = [
            models.Index(fields=["execution", "position"], name="approvals_estep_order_idx"),
            models.Index(fields=["upid"], name="approvals_estep_upid_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "position"],
                name="approvals_estep_unique_position",
                violation_error_message="An execution has one step per position.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}/{self.position} {self.name} ({self.state})"
