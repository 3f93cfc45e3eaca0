"""The only code that moves approval states; each move checks its transitions dict.

Request moves also append a timeline event (who, when, from, to) and an audit event, in
the caller's transaction (every caller holds one and the locked row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from governance.approvals.models import (
    EXECUTION_TRANSITIONS,
    REQUEST_TRANSITIONS,
    STEP_TRANSITIONS,
    Execution,
    ExecutionStep,
    Request,
    RequestEvent,
    RequestEventKind,
)
from governance.audit.services import audit_record


class TransitionError(ValueError):
    """A state move the transitions dict does not allow (a bug or a lost race)."""


def event_add(
    request: Request,
    *,
    kind: str,
    at: datetime,
    actor: Any = None,
    message: str = "",
    data: dict | None = None,
) -> RequestEvent:
    return RequestEvent.objects.create(
        request=request, at=at, actor=actor, kind=kind, message=message, data=data or {}
    )


def request_move(
    request: Request, state: str, *, actor: Any, at: datetime, message: str = ""
) -> None:
    """Move ``request`` to ``state`` and save; timeline and audit in the same transaction,
    and a live ``approvals.request`` event to its requester and approvers after commit."""
    from governance.approvals.execution.live import publish_state_on_commit

    before = request.state
    if state not in REQUEST_TRANSITIONS[before]:
        raise TransitionError(f"request {request.pk}: {before} -> {state}")
    request.state = state
    request.updated_at = at
    fields = ["state", "updated_at"]
    if before == "pending":
        request.decided_at = at
        fields.append("decided_at")
    if state in ("succeeded", "failed", "cancelled", "rejected", "expired"):
        request.finished_at = at
        fields.append("finished_at")
    request.save(update_fields=fields)
    event_add(
        request,
        kind=RequestEventKind.STATE,
        at=at,
        actor=actor,
        message=message,
        data={"from": before, "to": state},
    )
    audit_record(
        actor=actor,
        action=f"approvals.request.{state}",
        target=request,
        before={"state": before},
        after={"state": state, "kind": request.kind, "message": message},
    )
    publish_state_on_commit(request, before)


def step_move(step: ExecutionStep, state: str) -> None:
    """Set ``step.state`` (the caller saves)."""
    if state not in STEP_TRANSITIONS[step.state]:
        raise TransitionError(f"execution step {step.pk}: {step.state} -> {state}")
    step.state = state


def execution_move(execution: Execution, state: str) -> None:
    """Set ``execution.state`` (the caller saves)."""
    if state not in EXECUTION_TRANSITIONS[execution.state]:
        raise TransitionError(f"execution {execution.pk}: {execution.state} -> {state}")
    execution.state = state


def log_append(step: ExecutionStep, at: datetime, message: str) -> None:
    line = f"{at:%Y-%m-%d %H:%M:%S} {message}"
    step.log = f"{step.log}\n{line}" if step.log else line
