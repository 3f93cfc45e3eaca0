"""Celery tasks of the approvals app; each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from governance.approvals.execution import runner


@shared_task(name="approvals.execution_advance")
def execution_advance(execution_id: int, ticket: str | None = None) -> float | None:
    """Advance one execution one step or poll, then re-queue itself with the countdown."""
    advance = runner.execution_advance(execution_id=execution_id, ticket=ticket)
    if advance.again_in is not None:
        execution_advance.apply_async(
            args=[execution_id], kwargs={"ticket": advance.ticket}, countdown=advance.again_in
        )
    return advance.again_in


@shared_task(name="approvals.executions_resume")
def executions_resume() -> list[int]:
    """Re-queue executions whose next advance is overdue (a lost message, a dead worker)."""
    resumed = []
    for execution_id in runner.executions_due():
        advance = runner.execution_reschedule(execution_id=execution_id)
        if advance.again_in is not None:
            execution_advance.apply_async(args=[execution_id], kwargs={"ticket": advance.ticket})
            resumed.append(execution_id)
    return resumed


@shared_task(name="approvals.requests_expire")
def requests_expire() -> int:
    from governance.approvals.services.requests import requests_expire as expire

    return expire()
