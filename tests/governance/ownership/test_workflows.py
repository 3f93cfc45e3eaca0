"""Claims and transfers: the happy paths keep history; wrong people and states are refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from governance.accounts.models import TeamMembership
from governance.notifications.models import Notification
from governance.ownership.models import ClaimState, Ownership, OwnershipSource, TransferState
from governance.ownership.selectors import (
    claims_to_decide,
    ownership_history,
    transfers_waiting_for,
    vms_claimable,
)
from governance.ownership.services import ownership_assign
from governance.ownership.services_workflows import (
    claim_approve,
    claim_cancel,
    claim_create,
    claim_reject,
    transfer_accept,
    transfer_approve,
    transfer_cancel,
    transfer_offer,
    transfer_reject,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_claim_approved_by_the_team_manager_makes_the_claimant_owner(people, estate):
    old = estate["old"]
    assert old in vms_claimable()
    claim = claim_create(actor=people.alice, vm=old, team=people.ops, reason="my database")
    assert old not in vms_claimable()
    assert list(claims_to_decide(user=people.manager)) == [claim]
    assert Notification.objects.filter(user=people.manager, kind="ownership.claim").exists()

    claim_approve(actor=people.manager, claim=claim, comment="ok")

    claim.refresh_from_db()
    assert (claim.state, claim.decided_by) == (ClaimState.APPROVED, people.manager)
    [row] = ownership_history(vm=old)
    assert (row.source, row.owner, row.team, row.set_by) == (
        OwnershipSource.CLAIM,
        people.alice,
        people.ops,
        people.manager,
    )
    assert Notification.objects.filter(user=people.alice, kind="ownership.claim_approved").exists()


def test_a_claim_on_an_owned_vm_is_refused(people, estate):
    ownership_assign(actor=people.admin, vm=estate["web"], owner=people.bob, reason="r")
    with pytest.raises(ValidationError, match="already has an owner"):
        claim_create(actor=people.alice, vm=estate["web"], team=people.ops)


def test_claims_need_membership_and_one_at_a_time(people, estate):
    with pytest.raises(ValidationError, match="not a member of Dev"):
        claim_create(actor=people.alice, vm=estate["old"], team=people.dev)
    claim_create(actor=people.alice, vm=estate["old"], team=people.ops)
    with pytest.raises(ValidationError, match="already has a pending claim"):
        claim_create(actor=people.bob, vm=estate["old"], team=people.ops)


def test_nobody_decides_their_own_claim_and_only_the_teams_manager_decides(people, estate):
    own = claim_create(actor=people.manager, vm=estate["old"], team=people.ops)
    with pytest.raises(ValidationError, match="cannot decide your own claim"):
        claim_approve(actor=people.manager, claim=own)
    claim_cancel(actor=people.manager, claim=own)

    claim = claim_create(actor=people.alice, vm=estate["old"], team=people.ops)
    with pytest.raises(ValidationError, match="Only a manager of Ops"):
        claim_approve(actor=people.other_manager, claim=claim)
    claim_reject(actor=people.manager, claim=claim, comment="not yours")
    with pytest.raises(ValidationError, match="is rejected"):
        claim_approve(actor=people.manager, claim=claim)
    assert not Ownership.objects.exists()


def test_a_claim_approved_after_someone_else_got_the_vm_changes_nothing(people, estate):
    claim = claim_create(actor=people.alice, vm=estate["old"], team=people.ops)
    ownership_assign(actor=people.admin, vm=estate["old"], owner=people.carol, reason="r")
    with pytest.raises(ValidationError, match="already has an owner"):
        claim_approve(actor=people.manager, claim=claim)
    claim.refresh_from_db()
    assert claim.state == ClaimState.PENDING
    assert ownership_history(vm=estate["old"]).count() == 1


def test_a_transfer_offered_accepted_and_approved_hands_the_vm_over(people, estate):
    web = estate["web"]
    ownership_assign(
        actor=people.admin,
        vm=web,
        owner=people.alice,
        custodian=people.bob,
        team=people.ops,
        reason="r",
    )
    transfer = transfer_offer(
        actor=people.alice, vm=web, to_user=people.carol, to_team=people.dev, reason="moving"
    )
    assert list(transfers_waiting_for(user=people.carol)) == [transfer]
    transfer_accept(actor=people.carol, transfer=transfer)
    assert list(transfers_waiting_for(user=people.other_manager)) == [transfer]

    transfer_approve(actor=people.other_manager, transfer=transfer)

    transfer.refresh_from_db()
    assert transfer.state == TransferState.APPROVED
    rows = list(ownership_history(vm=web))
    assert [(r.source, r.owner, r.custodian, r.team) for r in rows] == [
        (OwnershipSource.TRANSFER, people.carol, None, people.dev),
        (OwnershipSource.ADMIN, people.alice, people.bob, people.ops),
    ]
    assert rows[0].set_by == people.other_manager
    assert Notification.objects.filter(
        user=people.alice, kind="ownership.transfer_approved"
    ).exists()


def test_transfer_bad_input_changes_nothing(people, estate):
    web = estate["web"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r")
    with pytest.raises(ValidationError, match="to yourself"):
        transfer_offer(actor=people.alice, vm=web, to_user=people.alice, to_team=people.ops)
    with pytest.raises(ValidationError, match="Only the owner"):
        transfer_offer(actor=people.bob, vm=web, to_user=people.carol, to_team=people.dev)
    with pytest.raises(ValidationError, match="not a member of Ops"):
        transfer_offer(actor=people.alice, vm=web, to_user=people.carol, to_team=people.ops)
    people.carol.is_active = False
    people.carol.save()
    with pytest.raises(ValidationError, match="carol is deactivated"):
        transfer_offer(actor=people.alice, vm=web, to_user=people.carol, to_team=people.dev)
    assert ownership_history(vm=web).count() == 1


def test_transfer_approval_rules(people, estate):
    web = estate["web"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r")
    # The receiver manages the receiving team, but still cannot approve their own transfer.
    transfer = transfer_offer(
        actor=people.alice, vm=web, to_user=people.manager, to_team=people.ops
    )
    deputy = UserFactory(username="deputy")
    TeamMembership.objects.create(team=people.ops, user=deputy, is_manager=True)
    with pytest.raises(ValidationError, match="is offered; it cannot become approved"):
        transfer_approve(actor=deputy, transfer=transfer)
    with pytest.raises(ValidationError, match="Only the person offered"):
        transfer_accept(actor=people.bob, transfer=transfer)
    transfer_accept(actor=people.manager, transfer=transfer)
    with pytest.raises(ValidationError, match="approve a transfer to yourself"):
        transfer_approve(actor=people.manager, transfer=transfer)
    with pytest.raises(ValidationError, match="Only a manager of Ops"):
        transfer_approve(actor=people.other_manager, transfer=transfer)
    with pytest.raises(ValidationError, match="already has an open transfer"):
        transfer_offer(actor=people.alice, vm=web, to_user=people.bob, to_team=people.ops)
    transfer_cancel(actor=people.alice, transfer=transfer)
    assert ownership_history(vm=web).count() == 1
    with pytest.raises(ValidationError, match="is cancelled"):
        transfer_approve(actor=deputy, transfer=transfer)


def test_the_receiver_may_reject_an_offer(people, estate):
    ownership_assign(actor=people.admin, vm=estate["web"], owner=people.alice, reason="r")
    transfer = transfer_offer(
        actor=people.alice, vm=estate["web"], to_user=people.carol, to_team=people.dev
    )
    transfer_reject(actor=people.carol, transfer=transfer, comment="no thanks")
    transfer.refresh_from_db()
    assert (transfer.state, transfer.decided_by) == (TransferState.REJECTED, people.carol)
    assert Notification.objects.filter(
        user=people.alice, kind="ownership.transfer_rejected"
    ).exists()


def test_deactivation_cancels_the_users_open_claims_and_transfers(people, estate):
    ownership_assign(actor=people.admin, vm=estate["web"], owner=people.alice, reason="r")
    transfer = transfer_offer(
        actor=people.alice, vm=estate["web"], to_user=people.carol, to_team=people.dev
    )
    claim = claim_create(actor=people.carol, vm=estate["old"], team=people.dev)
    people.carol.is_active = False
    people.carol.save()
    transfer.refresh_from_db()
    claim.refresh_from_db()
    assert (transfer.state, claim.state) == (TransferState.CANCELLED, ClaimState.CANCELLED)
