"""Reading ownership: current holders, history, unowned and orphaned VMs, leases.

Every VM query starts from ``restrict`` (through ``vm_visible``) when a user is given,
so dashboards and lists show each person only what they may see; conditions on
ownership are subqueries (``Exists``), never id lists.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from governance.core.permissions import get_object_or_404_for
from governance.ownership.models import Claim, ClaimState, Ownership, Transfer, TransferState
from governance.ownership.visibility import managed_team_ids
from inventory.models import VirtualMachine
from inventory.selectors.guests import vm_visible


def ownership_of(*, vm: VirtualMachine) -> Ownership | None:
    """The VM's current ownership row, holders joined; None if it never had one."""
    return (
        Ownership.objects.filter(vm=vm, until__isnull=True)
        .select_related("owner", "custodian", "team", "set_by")
        .first()
    )


def ownership_history(*, vm: VirtualMachine) -> QuerySet[Ownership]:
    """Every period of the VM's ownership, newest first, holders joined."""
    return (
        Ownership.objects.filter(vm=vm)
        .select_related("owner", "custodian", "team", "set_by")
        .order_by("-since", "-id")
    )


def _current(**conditions: Any) -> Exists:
    return Exists(Ownership.objects.filter(vm_id=OuterRef("pk"), until__isnull=True, **conditions))


def _live(user: Any) -> QuerySet[VirtualMachine]:
    return vm_visible(user=user).filter(gone_since__isnull=True)


def vms_unowned(*, user: Any) -> QuerySet[VirtualMachine]:
    """Live VMs ``user`` sees with no current owner, longest known first."""
    return _live(user).exclude(_current(owner__isnull=False)).order_by("first_seen", "id")


def vms_owner_left(*, user: Any) -> QuerySet[VirtualMachine]:
    """Live VMs ``user`` sees whose current owner is deactivated."""
    return _live(user).filter(_current(owner__is_active=False)).order_by("first_seen", "id")


def vms_claimable() -> QuerySet[VirtualMachine]:
    """Live unowned VMs without a pending claim: what a claim form may offer anyone.

    Not permission-scoped on purpose: a person has to find a VM to claim it. Callers
    show only identifying fields (cluster, vmid, name), never configs or ledgers.
    """
    pending = Claim.objects.filter(vm_id=OuterRef("pk"), state=ClaimState.PENDING)
    return (
        VirtualMachine.objects.filter(gone_since__isnull=True)
        .exclude(_current(owner__isnull=False))
        .exclude(Exists(pending))
        .select_related("cluster")
        .order_by("cluster__name", "vmid", "id")
    )


def claimable_vm_get(*, user: Any, pk: int) -> VirtualMachine:
    """The VM ``user`` asks to claim: a claimable one, or one they can see (the claim
    service then says why it is refused); ``Http404`` otherwise, exactly as for an id
    that does not exist, so a claim never reveals that an invisible VM has an owner."""
    vm = vms_claimable().filter(pk=pk).first()
    if vm is not None:
        return vm
    return get_object_or_404_for(user, VirtualMachine.objects.select_related("cluster"), pk=pk)


def leases_expiring(*, within_days: int = 14, today: date | None = None) -> QuerySet[Ownership]:
    """Current rows of live VMs whose lease ends within ``within_days`` (not yet ended)."""
    today = today or timezone.localdate()
    return (
        Ownership.objects.filter(
            until__isnull=True,
            vm__gone_since__isnull=True,
            lease_end__gte=today,
            lease_end__lte=today + timedelta(days=within_days),
        )
        .select_related("vm", "owner", "custodian", "team")
        .order_by("lease_end", "vm_id")
    )


def leases_expired(*, today: date | None = None) -> QuerySet[Ownership]:
    """Current rows of live VMs whose lease has ended: the "expired" state policies read."""
    today = today or timezone.localdate()
    return (
        Ownership.objects.filter(
            until__isnull=True, vm__gone_since__isnull=True, lease_end__lt=today
        )
        .select_related("vm", "owner", "custodian", "team")
        .order_by("lease_end", "vm_id")
    )


def is_lease_expired(*, vm: VirtualMachine, today: date | None = None) -> bool:
    return leases_expired(today=today).filter(vm=vm).exists()


def claims_to_decide(*, user: Any) -> QuerySet[Claim]:
    """Pending claims for teams ``user`` manages, not their own."""
    return (
        Claim.objects.filter(state=ClaimState.PENDING, team__in=managed_team_ids(user))
        .exclude(claimant=user)
        .select_related("vm__cluster", "claimant", "team")
    )


def transfers_waiting_for(*, user: Any) -> QuerySet[Transfer]:
    """Open transfers where ``user`` acts next: accept as receiver, or approve as manager."""
    to_approve = Q(to_team__in=managed_team_ids(user), state=TransferState.ACCEPTED)
    return Transfer.objects.filter(
        Q(to_user=user, state=TransferState.OFFERED) | (to_approve & ~Q(to_user=user))
    ).select_related("vm__cluster", "from_user", "to_user", "to_team")


def claims_open_by(*, user: Any) -> QuerySet[Claim]:
    """``user``'s own pending claims."""
    return Claim.objects.filter(claimant=user, state=ClaimState.PENDING).select_related(
        "vm__cluster", "team"
    )


def transfers_open_by(*, user: Any) -> QuerySet[Transfer]:
    """Transfers ``user`` offered that are still open."""
    return Transfer.objects.filter(
        from_user=user, state__in=[TransferState.OFFERED, TransferState.ACCEPTED]
    ).select_related("vm__cluster", "to_user", "to_team")


def inbox_count(user: Any) -> int:
    """How many claims and transfers wait for ``user`` to act (the navigation's badge)."""
    claims = claims_to_decide(user=user).order_by().values("pk")
    transfers = transfers_waiting_for(user=user).order_by().values("pk")
    return claims.union(transfers, all=True).count()  # one query on every page
