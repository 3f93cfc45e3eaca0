"""Who may view what because of ownership, as SQL conditions for ``restrict``.

Registered in ``OwnershipConfig.ready`` through ``governance.core.permissions``, so every
page, API, search and export that already goes through ``restrict`` follows. Each rule
is a subquery over current ownership rows and team memberships; nothing is loaded into
Python. Admins, security officers and auditors hold the model-wide view rights and
never reach these rules.

- A VM is visible to its current owner and custodian, and to managers of its team.
- A VM's ownership history, residency, copies and rollbacks are visible with the VM;
  a lineage edge when both of its VMs are.
- A claim is visible to the claimant and the managers of the claimed-for team; a
  transfer to both parties and the managers of the receiving team.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from governance.accounts.models import TeamMembership
from governance.core.permissions import register_visibility, restrict
from governance.ownership.models import Claim, Ownership, Transfer
from inventory.models import Copy, Lineage, Residency, Rollback, VirtualMachine


def managed_team_ids(user: Any) -> QuerySet:
    """Subquery: ids of the teams ``user`` manages."""
    return TeamMembership.objects.filter(user=user, is_manager=True).values("team_id")


def _current() -> QuerySet[Ownership]:
    # Unordered: these are members of restrict's UNION ALL.
    return Ownership.objects.filter(until__isnull=True).order_by()


# Three key rules rather than one OR: restrict unions them with guardian's grants into a
# single ``pk IN (...)``, and each member reads its own partial index on current rows.
def vm_owned_rule(user: Any) -> QuerySet:
    """Keys of the VMs ``user`` currently owns."""
    return _current().filter(owner=user).values("vm_id")


def vm_custodian_rule(user: Any) -> QuerySet:
    """Keys of the VMs ``user`` is currently custodian of."""
    return _current().filter(custodian=user).values("vm_id")


def vm_managed_rule(user: Any) -> QuerySet:
    """Keys of the VMs currently held by a team ``user`` manages."""
    return _current().filter(team__in=managed_team_ids(user)).values("vm_id")


VM_RULES = (vm_owned_rule, vm_custodian_rule, vm_managed_rule)


def _visible_vm_ids(user: Any) -> QuerySet:
    return restrict(VirtualMachine.objects.all(), user).values("pk")


def vm_child_rule(user: Any) -> Q:
    """For models with a ``vm`` foreign key: visible with their VM."""
    return Q(vm__in=_visible_vm_ids(user))


def lineage_rule(user: Any) -> Q:
    # Both ends: an edge to an invisible guest would reveal that guest's id.
    visible = _visible_vm_ids(user)
    return Q(parent__in=visible) & Q(child__in=visible)


def claim_rule(user: Any) -> Q:
    return Q(claimant=user) | Q(team__in=managed_team_ids(user))


def transfer_rule(user: Any) -> Q:
    return Q(from_user=user) | Q(to_user=user) | Q(to_team__in=managed_team_ids(user))


def register() -> None:
    for rule in VM_RULES:
        register_visibility(VirtualMachine, rule)
    for model in (Ownership, Residency, Copy, Rollback):
        register_visibility(model, vm_child_rule)
    register_visibility(Lineage, lineage_rule)
    register_visibility(Claim, claim_rule)
    register_visibility(Transfer, transfer_rule)
