"""Policy services (writes); import them from here.

- ``policy_save``, ``policy_dry_run`` (``DryRun``): ``policy.services.policies``
- ``policy_import_plan`` (``ImportPlan``), ``policy_import_apply``: ``...imports``
- ``violations_record``, ``violations_resolve``: ``...violations``
- ``reconcile`` (``ReconcileResult``, ``plan``): ``...reconcile``
- ``patch_confirm``: ``...patches``
"""

from policy.services.imports import ImportItem, ImportPlan, policy_import_apply, policy_import_plan
from policy.services.patches import patch_confirm
from policy.services.policies import DryRun, VmOutcome, policy_dry_run, policy_save
from policy.services.reconcile import (
    PlannedAction,
    ReconcileResult,
    UnknownPolicyError,
    reconcile,
)
from policy.services.violations import RecordResult, violations_record, violations_resolve

__all__ = [
    "DryRun",
    "ImportItem",
    "ImportPlan",
    "PlannedAction",
    "ReconcileResult",
    "RecordResult",
    "UnknownPolicyError",
    "VmOutcome",
    "patch_confirm",
    "policy_dry_run",
    "policy_import_apply",
    "policy_import_plan",
    "policy_save",
    "reconcile",
    "violations_record",
    "violations_resolve",
]
