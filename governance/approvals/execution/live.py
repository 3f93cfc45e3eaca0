"""Live progress of executions: who is told, and what they receive.

The requester, everyone who decided on the request and an admin who asked to cancel its
execution receive ``approvals.execution``
events (``{"request", "execution", "position", "step", "state", "lines"}``); every move of
the request's own state sends ``approvals.request`` (``{"request", "from", "state"}``) to
the requester and to every approver of its chain, those still to decide included. Pages
render
the stored state on load and treat events as hints (see ``governance.core.realtime``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from governance.approvals.models import Approval, Execution, Request
from governance.core.realtime import publish_to_user

EVENT = "approvals.execution"
STATE_EVENT = "approvals.request"


def audience(request: Request) -> set[int]:
    """User ids following a request: its requester, its approvers (voided ones too) and
    whoever asked to cancel its execution (they watch it stop)."""
    approvers = Approval.objects.filter(request=request).values_list("approver_id", flat=True)
    cancellers = Execution.objects.filter(
        request=request, cancel_requested_by__isnull=False
    ).values_list("cancel_requested_by_id", flat=True)
    return {request.requester_id, *approvers, *cancellers}


def publish_on_commit(request: Request, payload: dict[str, Any]) -> None:
    """Send ``payload`` to the request's audience once the current transaction commits."""
    users = audience(request)
    body = {"request": request.pk, **payload}

    def send() -> None:
        for user_id in users:
            publish_to_user(user_id, EVENT, body)

    transaction.on_commit(send)


def state_audience(request: Request) -> set[int]:
    """``audience`` plus everyone who may decide any step of the request's chain."""
    from governance.approvals.services.chains import step_approvers

    users = audience(request)
    for step in request.steps.all():
        users.update(step_approvers(step).values_list("pk", flat=True))
    return users


def publish_state_on_commit(request: Request, before: str) -> None:
    """Tell the request's state audience that it moved from ``before``, after commit (a
    rolled-back move tells nobody)."""
    users = state_audience(request)
    body = {"request": request.pk, "from": before, "state": request.state}

    def send() -> None:
        for user_id in sorted(users):
            publish_to_user(user_id, STATE_EVENT, body)

    transaction.on_commit(send)
