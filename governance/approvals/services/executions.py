"""Starting, retrying and cancelling executions of approved requests.

Invariants:
- An execution and all its step rows exist (committed) before its first Celery message is
  sent; the message is sent from ``on_commit`` carrying the execution's ticket.
- Retry re-opens only the failed step (steps done stay done: nothing runs twice).
- Cancel ends a failed execution at once; a running one stops at the next step boundary
  (the engine honours ``cancel_requested_at``, set here under the execution's lock): a
  step between runs never starts, a Proxmox task in flight is left to finish or, for an
  ``abortable`` step, stopped. Both are admin actions, audited with who and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from governance.accounts.roles import Role, has_role
from governance.approvals.execution.base import steps_of
from governance.approvals.execution.runner import execution_reschedule, ticket_of
from governance.approvals.execution.transitions import execution_cancelled, execution_end
from governance.approvals.models import (
    Execution,
    ExecutionState,
    ExecutionStep,
    Request,
    RequestState,
    StepState,
)
from governance.approvals.states import execution_move, request_move, step_move
from governance.audit.services import audit_record


def execution_queue(execution: Execution) -> None:
    """Send the first advance message once the current transaction commits."""
    execution_id, ticket = execution.pk, ticket_of(execution)

    def send() -> None:
        from governance.approvals.tasks import execution_advance

        execution_advance.apply_async(args=[execution_id], kwargs={"ticket": ticket})

    transaction.on_commit(send)


def _steps_create(execution: Execution) -> int:
    specs = steps_of(execution.request.kind)
    ExecutionStep.objects.bulk_create(
        ExecutionStep(execution=execution, position=i, name=spec.name, label=spec.label)
        for i, spec in enumerate(specs)
    )
    return len(specs)


def request_approved(request: Request, *, actor: Any, now: datetime, message: str) -> Execution:
    """Approve ``request`` (locked by the caller) and start its execution."""
    request_move(request, RequestState.APPROVED, actor=actor, at=now, message=message)
    request_move(request, RequestState.EXECUTING, actor=None, at=now, message="execution queued")
    execution = Execution.objects.create(request=request, started_at=now, next_run_at=now)
    try:
        _steps_create(execution)
    except LookupError as exc:
        execution_end(execution, ExecutionState.FAILED, now=now, error=str(exc))
        return execution
    audit_record(
        actor=actor,
        action="approvals.execution.started",
        target=request,
        after={"kind": request.kind},
    )
    execution_queue(execution)
    return execution


def _admin(actor: Any) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied("Only admins retry or cancel executions.")


def _locked_failed(execution: Execution, verb: str) -> Execution:
    """The execution, locked, if it failed; ``ValidationError`` saying why not otherwise."""
    execution = (
        Execution.objects.select_for_update(of=("self",))
        .select_related("request")
        .get(pk=execution.pk)
    )
    if execution.state != ExecutionState.FAILED:
        raise ValidationError(f"Only a failed execution is {verb} (this one is {execution.state}).")
    return execution


def execution_retry(*, actor: Any, execution: Execution, now: datetime | None = None) -> Execution:
    """Run a failed execution again from its failed step."""
    _admin(actor)
    now = now or timezone.now()
    with transaction.atomic():
        execution = _locked_failed(execution, "retried")
        if not execution.steps.exists():
            _steps_create(execution)
        failed = execution.steps.select_for_update().filter(state=StepState.FAILED).first()
        if failed is not None:
            step_move(failed, StepState.PENDING)
            failed.error, failed.upid, failed.lease_until, failed.claim = "", "", None, ""
            failed.attempts, failed.task_cluster, failed.started_at = 0, None, None
            failed.save()
            execution.current = failed.position
        execution_move(execution, ExecutionState.RUNNING)
        execution.attempts += 1
        execution.error, execution.finished_at, execution.next_run_at = "", None, now
        execution.save()
        request_move(
            execution.request, RequestState.EXECUTING, actor=actor, at=now, message="retried"
        )
        audit_record(
            actor=actor,
            action="approvals.execution.retried",
            target=execution.request,
            after={"from_step": failed.name if failed else None, "attempt": execution.attempts},
        )
        execution_queue(execution)
    return execution


def execution_cancel(
    *, actor: Any, execution: Execution, reason: str = "", now: datetime | None = None
) -> Execution:
    """Cancel a failed or running execution; the request ends cancelled.

    A failed one, or a running one between steps, ends now. One whose step is in flight
    (a worker is calling Proxmox, or a task runs) is marked and ends once that step
    is recorded; the engine is woken at once so an abortable task is stopped promptly.
    The reason is required: it is what the requester and the audit trail are shown.
    """
    _admin(actor)
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the execution is cancelled."})
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("request")
            .get(pk=execution.pk)
        )
        if execution.state not in (ExecutionState.FAILED, ExecutionState.RUNNING):
            raise ValidationError(
                f"This execution has already ended ({execution.get_state_display().lower()}); "
                "there is nothing to cancel."
            )
        if execution.cancel_requested_at is not None:
            raise ValidationError(
                f"A cancel was already asked for by {execution.cancel_requested_by} and is "
                "waiting for the step in flight to end."
            )
        execution.cancel_requested_at = now
        execution.cancel_requested_by = actor
        execution.cancel_reason = reason
        execution.save(
            update_fields=["cancel_requested_at", "cancel_requested_by", "cancel_reason"]
        )
        step = execution.steps.filter(position=execution.current).first()
        # A step left running by a dead worker counts too: the engine first finds out
        # what it started (and stops or follows it), never running it again.
        in_flight = (
            execution.state == ExecutionState.RUNNING
            and step is not None
            and step.state in (StepState.WAITING_TASK, StepState.RUNNING)
        )
        audit_record(
            actor=actor,
            action="approvals.execution.cancel_requested",
            target=execution.request,
            after={"reason": reason, "step": step.name if step else None, "waits": in_flight},
        )
        if not in_flight:
            execution_cancelled(execution, now=now)
            return execution
        # A fresh ticket: the engine looks now instead of at the task's next poll.
        execution_reschedule(execution_id=execution.pk, now=now)
        execution.refresh_from_db()
        execution_queue(execution)
    return execution
