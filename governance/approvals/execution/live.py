"""Live progress of executions: who is told, and what they receive.

The requester and everyone who decided on the request receive ``approvals.execution``
events (``{"request", "execution", "position", "step", "state", "lines"}``); pages render
the stored state on load and treat events as hints (see ``governance.core.realtime``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from governance.approvals.models import Approval, Request
from governance.core.realtime import publish_to_user

EVENT = "approvals.execution"


def audience(request: Request) -> set[int]:
    """User ids following a request: its requester and its approvers (voided ones too)."""
    approvers = Approval.objects.filter(request=request).values_list("approver_id", flat=True)
    return {request.requester_id, *approvers}


def publish_on_commit(request: Request, payload: dict[str, Any]) -> None:
    """Send ``payload`` to the request's audience once the current transaction commits."""
    users = audience(request)
    body = {"request": request.pk, **payload}

    def send() -> None:
        for user_id in users:
            publish_to_user(user_id, EVENT, body)

    transaction.on_commit(send)
