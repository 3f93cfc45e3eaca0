"""Who may view policy records because they may view the VM: registered in ``ready``.

Admins, security officers and auditors hold the model-wide view rights and never reach
these rules. Everyone else sees the violations, remediations, quarantines, exemptions
and patch confirmations of the VMs ``restrict`` lets them see (owners, custodians, team
managers through the ownership rules). Cluster-level violations (no VM) stay hidden.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from governance.core.permissions import register_visibility, restrict
from inventory.models import VirtualMachine
from policy.models import Exemption, PatchConfirmation, Quarantine, Remediation, Violation


def vm_child_rule(user: Any) -> Q:
    """For models with a ``vm`` foreign key: visible with their VM."""
    return Q(vm__in=restrict(VirtualMachine.objects.all(), user).values("pk"))


def register() -> None:
    for model in (Violation, Remediation, Quarantine, Exemption, PatchConfirmation):
        register_visibility(model, vm_child_rule)
