"""Ending an execution: the execution, its request, the requester told, one transaction."""

from __future__ import annotations

from datetime import datetime

from governance.approvals.models import Execution, ExecutionState, RequestState
from governance.approvals.states import execution_move, log_append, request_move, step_move
from governance.audit.services import audit_record
from governance.notifications.services import notify

__all__ = ["execution_cancelled", "execution_end", "log_append", "step_move"]


def request_link(request_id: int) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("approvals:request", args=[request_id])
    except NoReverseMatch:  # the pages are routed by the UI part of the app
        return f"/approvals/requests/{request_id}/"


def execution_end(execution: Execution, state: str, *, now: datetime, error: str = "") -> None:
    """Finish ``execution`` (succeeded or failed) and its request; the caller holds the lock."""
    execution_move(execution, state)
    execution.finished_at = now
    execution.error = error
    execution.save(update_fields=["state", "finished_at", "error"])
    request = execution.request
    outcome = RequestState.SUCCEEDED if state == ExecutionState.SUCCEEDED else RequestState.FAILED
    request_move(request, outcome, actor=None, at=now, message=error)
    subject = (
        f"Request #{request.pk} ({request.get_kind_display()}) succeeded"
        if outcome == RequestState.SUCCEEDED
        else f"Request #{request.pk} ({request.get_kind_display()}) failed"
    )
    link = request_link(request.pk)
    # In this transaction: the notification goes if the outcome is recorded, not otherwise.
    # One kind per outcome: an unread "failed" does not swallow the "succeeded" of a retry.
    notify(
        user=request.requester,
        kind=f"approvals.{outcome!s}",
        subject=subject,
        body=error,
        link=link,
    )


def execution_cancelled(execution: Execution, *, now: datetime) -> None:
    """End ``execution`` as cancelled by whoever asked (``cancel_requested_by``, for
    ``cancel_reason``) and its request with it; the caller holds the lock."""
    execution_move(execution, ExecutionState.CANCELLED)
    execution.finished_at = now
    execution.save(update_fields=["state", "finished_at"])
    request = execution.request
    actor = execution.cancel_requested_by
    reason = execution.cancel_reason or "no reason given"
    step = execution.steps.filter(position=execution.current).first()
    request_move(request, RequestState.CANCELLED, actor=actor, at=now, message=reason)
    audit_record(
        actor=actor,
        action="approvals.execution.cancelled",
        target=request,
        after={
            "reason": reason,
            "stopped_before": step.name if step and step.state == "pending" else None,
            "last_step": step.name if step else None,
        },
    )
    notify(
        user=request.requester,
        kind="approvals.cancelled",
        subject=f"Request #{request.pk} ({request.get_kind_display()}) was cancelled",
        body=reason,
        link=request_link(request.pk),
    )
