"""Approvals models: requests, chains and decisions, executions, access grants."""

from governance.approvals.models.access import GRANT_TRANSITIONS, AccessGrant, GrantState
from governance.approvals.models.chains import (
    Approval,
    ApprovalChain,
    ApprovalStep,
    ApproverRule,
    Decision,
    StepMode,
)
from governance.approvals.models.execution import (
    EXECUTION_TRANSITIONS,
    STEP_TRANSITIONS,
    Execution,
    ExecutionState,
    ExecutionStep,
    StepState,
)
from governance.approvals.models.quota import LIMITS, TeamQuota
from governance.approvals.models.requests import (
    DECIDED_STATES,
    OPEN_STATES,
    REQUEST_TRANSITIONS,
    Request,
    RequestEvent,
    RequestEventKind,
    RequestKind,
    RequestState,
    RequestStep,
)

__all__ = [
    "DECIDED_STATES",
    "EXECUTION_TRANSITIONS",
    "GRANT_TRANSITIONS",
    "LIMITS",
    "OPEN_STATES",
    "REQUEST_TRANSITIONS",
    "STEP_TRANSITIONS",
    "AccessGrant",
    "Approval",
    "ApprovalChain",
    "ApprovalStep",
    "ApproverRule",
    "Decision",
    "Execution",
    "ExecutionState",
    "ExecutionStep",
    "GrantState",
    "Request",
    "RequestEvent",
    "RequestEventKind",
    "RequestKind",
    "RequestState",
    "RequestStep",
    "StepMode",
    "StepState",
    "TeamQuota",
]
