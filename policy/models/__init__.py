"""Policy models, split by sub-domain; import them from here."""

from policy.models.policies import Exemption, Policy, PolicyKind, PolicyMode, PolicyVersion
from policy.models.quarantine import (
    QUARANTINE_TRANSITIONS,
    PatchConfirmation,
    Quarantine,
    QuarantineCause,
    QuarantineState,
    RightsAssignment,
)
from policy.models.violations import (
    ACTIVE_REMEDIATION_STATES,
    REMEDIATION_TRANSITIONS,
    ActionKind,
    Remediation,
    RemediationRunState,
    RemediationState,
    Violation,
)

__all__ = [
    "ACTIVE_REMEDIATION_STATES",
    "QUARANTINE_TRANSITIONS",
    "REMEDIATION_TRANSITIONS",
    "ActionKind",
    "Exemption",
    "PatchConfirmation",
    "Policy",
    "PolicyKind",
    "PolicyMode",
    "PolicyVersion",
    "Quarantine",
    "QuarantineCause",
    "QuarantineState",
    "Remediation",
    "RemediationRunState",
    "RemediationState",
    "RightsAssignment",
    "Violation",
]
