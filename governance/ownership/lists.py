"""Reading the ownership VM list: inventory's filters plus who owns what, in one query.

The dashboard's numbers link here, and bulk assignment acts on what this list selects,
so "the VMs this number counts", "the VMs on this page" and "the VMs a bulk assignment
changes" are one and the same queryset.

Invariants:
- It starts from inventory's ``vm_list`` (and so from ``restrict``): the same guests, the
  same search, the same permission filtering in SQL as the inventory pages.
- The current ownership row comes by LEFT JOIN (``current``), with its owner, custodian
  and team as annotations: constant queries per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from governance.ownership.dashboard import (
    LEASE_WARNING_DAYS,
    Scope,
    owned_q,
    scope_q,
    with_current,
)
from inventory.models import VirtualMachine
from inventory.selectors.guests import VM_SORTS, VmFilters, vm_list

# The inventory sorts, plus age: "unowned, oldest first" is a dashboard link.
OWNERSHIP_SORTS: dict[str, tuple[str, ...]] = {**VM_SORTS, "first_seen": ("first_seen", "id")}
NONE = "none"


@dataclass(frozen=True)
class OwnershipFilters:
    """Ownership conditions on top of ``VmFilters``; empty values mean "any".

    ``owner`` and ``team`` take a username or slug, or ``"none"`` for "has none".
    ``lease`` is ``"expiring"`` (ends within ``LEASE_WARNING_DAYS``) or ``"expired"``.
    """

    owner: str = ""
    team: str = ""
    owned: bool | None = None
    owner_left: bool = False
    lease: str = ""
    mine: bool = False


def ownership_filter_q(filters: OwnershipFilters, *, user: Any, today: date | None = None) -> Q:
    """``filters`` as one condition over a queryset with ``current`` joined."""
    today = today or timezone.localdate()
    q = Q()
    if filters.owner == NONE:
        q &= ~owned_q()
    elif filters.owner:
        q &= Q(current__owner__username=filters.owner)
    if filters.team == NONE:
        q &= Q(current__team__isnull=True)
    elif filters.team:
        q &= Q(current__team__slug=filters.team)
    if filters.owned is not None:
        q &= owned_q() if filters.owned else ~owned_q()
    if filters.owner_left:
        q &= Q(current__owner__is_active=False)
    if filters.lease == "expiring":
        q &= Q(
            current__lease_end__gte=today,
            current__lease_end__lte=today + timedelta(days=LEASE_WARNING_DAYS),
        )
    elif filters.lease == "expired":
        q &= Q(current__lease_end__lt=today)
    if filters.mine:
        q &= scope_q(Scope(kind="mine", label="", user=user))
    return q


def owned_vm_matches(
    *, user: Any, filters: VmFilters, ownership: OwnershipFilters
) -> QuerySet[VirtualMachine]:
    """Guests ``user`` may see matching both filter sets, without the holders' columns:
    what counting and bulk assignment need (the current row is joined only when a
    filter reads it, so "every unowned VM" is counted by one anti-join). Unordered."""
    queryset = with_current(vm_list(user=user, filters=filters))
    return queryset.filter(ownership_filter_q(ownership, user=user))


def owned_vm_list(
    *, user: Any, filters: VmFilters, ownership: OwnershipFilters
) -> QuerySet[VirtualMachine]:
    """``owned_vm_matches`` with the current ownership of each row.

    Each row carries ``owner_username``, ``custodian_username``, ``team_name``,
    ``team_slug``, ``lease_ends`` and ``owned_since`` (empty when unowned). Unordered.
    """
    return owned_vm_matches(user=user, filters=filters, ownership=ownership).annotate(
        owner_username=F("current__owner__username"),
        owner_active=F("current__owner__is_active"),
        custodian_username=F("current__custodian__username"),
        team_name=F("current__team__name"),
        team_slug=F("current__team__slug"),
        lease_ends=F("current__lease_end"),
        owned_since=F("current__since"),
    )
