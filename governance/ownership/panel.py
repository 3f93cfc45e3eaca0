"""The ownership section of the inventory VM page: what it shows and which actions it offers.

Inventory's VM page includes ``ownership/_vm_section.html`` with a VM the viewer may
already see; everything here is read from that VM and the viewer, so inventory imports
nothing from ownership. A button shown here is a hint, not a right: every action view
calls a service that checks again (a stale page can offer a move that is refused).

Costs a fixed number of queries: the ledger with holders, the pending claim, the open
transfer and the viewer's team memberships (``PANEL_QUERIES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from governance.accounts.models import Team, TeamMembership
from governance.ownership.models import (
    TRANSFER_OPEN_STATES,
    Claim,
    ClaimState,
    Ownership,
    Transfer,
    TransferState,
)
from inventory.models import VirtualMachine

HISTORY_ROWS = 20
PANEL_QUERIES = 4
ASSIGN_PERMISSION = "ownership.add_ownership"
ASSIGN_PREFIX = "assign"
CLASSIFY_PERMISSION = "ownership.set_classification"


@dataclass(frozen=True)
class VmPanel:
    """The VM's ownership as its viewer may act on it."""

    vm: VirtualMachine
    current: Ownership | None
    history: list[Ownership]
    claim: Claim | None
    transfer: Transfer | None
    lease_expired: bool
    claim_teams: list[Team] = field(default_factory=list)
    can_claim: bool = False
    can_cancel_claim: bool = False
    can_decide_claim: bool = False
    can_offer: bool = False
    can_cancel_transfer: bool = False
    can_accept: bool = False
    can_decide_transfer: bool = False
    can_request_extension: bool = False
    can_assign: bool = False
    can_classify: bool = False

    @property
    def owned(self) -> bool:
        return self.current is not None and self.current.owner_id is not None

    @property
    def has_actions(self) -> bool:
        return any(
            getattr(self, name)
            for name in (
                "can_claim",
                "can_cancel_claim",
                "can_decide_claim",
                "can_offer",
                "can_cancel_transfer",
                "can_accept",
                "can_decide_transfer",
                "can_request_extension",
                "can_assign",
                "can_classify",
            )
        )


def vm_panel(*, user: Any, vm: VirtualMachine) -> VmPanel:
    """The panel of ``vm`` (which ``user`` may see) for ``user``."""
    history = list(
        Ownership.objects.filter(vm=vm)
        .select_related("owner", "custodian", "team", "set_by")
        .order_by("-since", "-id")[:HISTORY_ROWS]
    )
    current = next((row for row in history if row.until is None), None)
    claim = (
        Claim.objects.filter(vm=vm, state=ClaimState.PENDING)
        .select_related("claimant", "team")
        .first()
    )
    transfer = (
        Transfer.objects.filter(vm=vm, state__in=TRANSFER_OPEN_STATES)
        .select_related("from_user", "to_user", "to_team")
        .first()
    )
    memberships = list(TeamMembership.objects.filter(user=user).select_related("team"))
    managed = {m.team_id for m in memberships if m.is_manager}
    live = vm.gone_since is None
    owner_id = current.owner_id if current else None
    holder = current is not None and user.pk in (current.owner_id, current.custodian_id)
    lease_end = current.lease_end if current else None
    return VmPanel(
        vm=vm,
        current=current,
        history=history,
        claim=claim,
        transfer=transfer,
        lease_expired=lease_end is not None and lease_end < timezone.localdate(),
        claim_teams=sorted((m.team for m in memberships), key=lambda team: team.name),
        can_claim=live and owner_id is None and claim is None and bool(memberships),
        can_cancel_claim=claim is not None and claim.claimant_id == user.pk,
        can_decide_claim=claim is not None
        and claim.claimant_id != user.pk
        and claim.team_id in managed,
        can_offer=live and owner_id == user.pk and transfer is None,
        can_cancel_transfer=transfer is not None and transfer.from_user_id == user.pk,
        can_accept=transfer is not None
        and transfer.state == TransferState.OFFERED
        and transfer.to_user_id == user.pk,
        can_decide_transfer=transfer is not None
        and transfer.state == TransferState.ACCEPTED
        and transfer.to_user_id != user.pk
        and transfer.to_team_id in managed,
        can_request_extension=live and holder and lease_end is not None,
        can_assign=live and user.has_perm(ASSIGN_PERMISSION),
        can_classify=user.has_perm(CLASSIFY_PERMISSION),
    )
