"""Claims and transfers: ownership that changes hands with a manager's approval.

- Claim: a user asks to own an unowned VM for a team they belong to; a manager of that
  team approves or rejects; the claimant may cancel while it is pending.
- Transfer: the owner offers the VM to another active user for a team that user belongs
  to; the receiver accepts (or rejects); a manager of the receiving team approves (or
  rejects); the offering owner may cancel until it is approved.

Nobody approves their own claim or a transfer to themselves, even when they manage the
team. Each move follows ``CLAIM_TRANSITIONS``/``TRANSFER_TRANSITIONS``, records who and
when, is audited in its transaction and tells the next person in line.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.accounts.models import Team, TeamMembership, User
from governance.audit.services import audit_record
from governance.notifications.services import notify, notify_many
from governance.ownership.models import (
    CLAIM_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    Claim,
    ClaimState,
    OwnershipSource,
    Transfer,
    TransferState,
)
from governance.ownership.services import (
    is_team_manager,
    managers_of,
    ownership_change,
    ownership_current,
    vm_link,
)
from inventory.models import VirtualMachine

#: Checks a VM must pass to join a team by a claim or a transfer, ``fn(*, vm, team)``
#: raising ``ValidationError``; apps above this one (approvals: the team's quota) register
#: theirs from ``AppConfig.ready``, so ownership imports none of them.
TEAM_INTAKE_CHECKS: list[Callable[..., None]] = []


def _intake(vm: VirtualMachine, team: Team) -> None:
    for check in TEAM_INTAKE_CHECKS:
        check(vm=vm, team=team)


def _member(user: User, team: Team) -> bool:
    return TeamMembership.objects.filter(user=user, team=team).exists()


def _move(obj: Claim | Transfer, transitions: dict[str, set[str]], state: str) -> None:
    if state not in transitions[obj.state]:
        raise ValidationError(
            f"This {type(obj).__name__.lower()} is {obj.get_state_display().lower()}; "
            f"it cannot become {state}."
        )
    obj.state = state


# ---- claims ----------------------------------------------------------------------------


def claim_create(*, actor: User, vm: VirtualMachine, team: Team, reason: str = "") -> Claim:
    """``actor`` claims the unowned ``vm`` for ``team``; the team's managers are told.

    ``ValidationError`` when the VM has an owner, is destroyed, already has a pending
    claim, or the actor is not in the team; the messages name no one. Callers offer
    only ``selectors.vms_claimable()`` and answer for any other VM the claimant cannot
    see as for an unknown one (``claimable_vm_get``).
    """
    if not _member(actor, team):
        raise ValidationError({"team": f"You are not a member of {team}; claim for your team."})
    with transaction.atomic():
        vm = VirtualMachine.objects.get(pk=vm.pk)
        if vm.gone_since is not None:
            raise ValidationError(f"VM {vm} no longer exists in Proxmox.")
        current = ownership_current(vm_id=vm.pk, lock=True)
        if current is not None and current.owner_id is not None:
            # Names no one: a claimant may not be allowed to see who owns it.
            raise ValidationError(
                f"VM {vm} already has an owner; only its owner can offer it to you."
            )
        _intake(vm, team)
        try:
            with transaction.atomic():
                claim = Claim.objects.create(
                    vm=vm, claimant=actor, team=team, reason=reason.strip()
                )
        except IntegrityError as error:
            raise ValidationError(f"VM {vm} already has a pending claim.") from error
        audit_record(
            actor=actor,
            action="ownership.claim_create",
            target=vm,
            after={"claim": claim.pk, "team": team.slug, "reason": claim.reason},
        )
        notify_many(
            users=managers_of(team.pk).exclude(pk=actor.pk),
            kind="ownership.claim",
            subject=f"{actor.get_username()} claims VM {vm} for {team}",
            body=claim.reason,
            link=vm_link(vm.pk),
        )
    return claim


def _decide_claim(*, actor: User, claim: Claim, state: str, comment: str) -> Claim:
    with transaction.atomic():
        claim = Claim.objects.select_for_update().select_related("vm", "team").get(pk=claim.pk)
        if actor.pk == claim.claimant_id:
            raise ValidationError("You cannot decide your own claim; a manager of the team must.")
        if not is_team_manager(user=actor, team_id=claim.team_id):
            raise ValidationError(f"Only a manager of {claim.team} can decide this claim.")
        _move(claim, CLAIM_TRANSITIONS, state)
        claim.decided_by, claim.decided_at, claim.comment = actor, timezone.now(), comment
        if state == ClaimState.APPROVED:
            _intake(claim.vm, claim.team)
            ownership_change(
                actor=actor,
                vm=claim.vm,
                source=OwnershipSource.CLAIM,
                reason=f"claim #{claim.pk} approved" + (f": {comment}" if comment else ""),
                owner=claim.claimant,
                team=claim.team,
                require_unowned=True,
            )
        claim.save(update_fields=["state", "decided_by", "decided_at", "comment"])
        audit_record(
            actor=actor,
            action=f"ownership.claim_{state}",
            target=claim.vm,
            after={"claim": claim.pk, "comment": comment},
        )
        notify(
            user=claim.claimant,
            kind=f"ownership.claim_{state}",
            subject=f"Your claim of VM {claim.vm} was {state}",
            body=comment,
            link=vm_link(claim.vm_id),
        )
    return claim


def claim_approve(*, actor: User, claim: Claim, comment: str = "") -> Claim:
    """A manager of the claim's team makes the claimant the owner (if still unowned)."""
    return _decide_claim(actor=actor, claim=claim, state=ClaimState.APPROVED, comment=comment)


def claim_reject(*, actor: User, claim: Claim, comment: str = "") -> Claim:
    return _decide_claim(actor=actor, claim=claim, state=ClaimState.REJECTED, comment=comment)


def claim_cancel(*, actor: User, claim: Claim) -> Claim:
    """The claimant withdraws a pending claim."""
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        if actor.pk != claim.claimant_id:
            raise ValidationError("Only the claimant can cancel a claim.")
        _move(claim, CLAIM_TRANSITIONS, ClaimState.CANCELLED)
        claim.decided_by, claim.decided_at = actor, timezone.now()
        claim.save(update_fields=["state", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action="ownership.claim_cancelled",
            target=claim.vm,
            after={"claim": claim.pk},
        )
    return claim


# ---- transfers -------------------------------------------------------------------------


def transfer_offer(
    *, actor: User, vm: VirtualMachine, to_user: User, to_team: Team, reason: str = ""
) -> Transfer:
    """The owner offers ``vm`` to ``to_user`` (for ``to_team``); the receiver is told.

    ``ValidationError`` for a transfer to oneself, by someone who is not the owner, to a
    deactivated user or one outside ``to_team``, or when a transfer is already open.
    """
    if to_user.pk == actor.pk:
        raise ValidationError({"to_user": "You cannot transfer a VM to yourself."})
    if not to_user.is_active:
        raise ValidationError(
            {"to_user": f"{to_user.get_username()} is deactivated; choose an active user."}
        )
    if not _member(to_user, to_team):
        raise ValidationError(
            {"to_team": f"{to_user.get_username()} is not a member of {to_team}."}
        )
    with transaction.atomic():
        current = ownership_current(vm_id=vm.pk, lock=True)
        if current is None or current.owner_id != actor.pk:
            raise ValidationError("Only the owner of a VM can offer it to someone else.")
        _intake(vm, to_team)
        try:
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    vm=vm, from_user=actor, to_user=to_user, to_team=to_team, reason=reason.strip()
                )
        except IntegrityError as error:
            raise ValidationError(f"VM {vm} already has an open transfer.") from error
        audit_record(
            actor=actor,
            action="ownership.transfer_offer",
            target=vm,
            after={
                "transfer": transfer.pk,
                "to_user": to_user.get_username(),
                "to_team": to_team.slug,
                "reason": transfer.reason,
            },
        )
        notify(
            user=to_user,
            kind="ownership.transfer_offer",
            subject=f"{actor.get_username()} offers you VM {vm}",
            body=transfer.reason,
            link=vm_link(vm.pk),
        )
    return transfer


def _locked_transfer(transfer: Transfer) -> Transfer:
    return (
        Transfer.objects.select_for_update()
        .select_related("vm", "to_team", "to_user", "from_user")
        .get(pk=transfer.pk)
    )


def _record(actor: User, transfer: Transfer, step: str, comment: str = "") -> None:
    audit_record(
        actor=actor,
        action=f"ownership.transfer_{step}",
        target=transfer.vm,
        after={"transfer": transfer.pk, "comment": comment},
    )


def transfer_accept(*, actor: User, transfer: Transfer) -> Transfer:
    """The receiver accepts; the managers of the receiving team are asked to approve."""
    with transaction.atomic():
        transfer = _locked_transfer(transfer)
        if actor.pk != transfer.to_user_id:
            raise ValidationError("Only the person offered the VM can accept it.")
        _move(transfer, TRANSFER_TRANSITIONS, TransferState.ACCEPTED)
        transfer.accepted_at = timezone.now()
        transfer.save(update_fields=["state", "accepted_at"])
        _record(actor, transfer, "accepted")
        notify_many(
            users=managers_of(transfer.to_team_id).exclude(pk=actor.pk),
            kind="ownership.transfer_approval",
            subject=f"Approve handing VM {transfer.vm} to {transfer.to_user.get_username()}",
            body=transfer.reason,
            link=vm_link(transfer.vm_id),
        )
    return transfer


def transfer_approve(*, actor: User, transfer: Transfer, comment: str = "") -> Transfer:
    """A manager of the receiving team hands the VM over; its custodian is cleared.

    ``ValidationError`` when the transfer is not accepted yet, the actor is the receiver
    or no manager of the team, or the VM changed owner since the offer.
    """
    with transaction.atomic():
        transfer = _locked_transfer(transfer)
        if actor.pk == transfer.to_user_id:
            raise ValidationError(
                "You cannot approve a transfer to yourself; another manager of the team must."
            )
        if not is_team_manager(user=actor, team_id=transfer.to_team_id):
            raise ValidationError(f"Only a manager of {transfer.to_team} can approve this.")
        _move(transfer, TRANSFER_TRANSITIONS, TransferState.APPROVED)
        current = ownership_current(vm_id=transfer.vm_id, lock=True)
        if current is None or current.owner_id != transfer.from_user_id:
            raise ValidationError(
                f"VM {transfer.vm} changed owner since it was offered; the transfer is void."
            )
        if not transfer.to_user.is_active:
            raise ValidationError(f"{transfer.to_user.get_username()} was deactivated.")
        _intake(transfer.vm, transfer.to_team)
        ownership_change(
            actor=actor,
            vm=transfer.vm,
            source=OwnershipSource.TRANSFER,
            reason=f"transfer #{transfer.pk} from {transfer.from_user.get_username()}"
            + (f": {transfer.reason}" if transfer.reason else ""),
            owner=transfer.to_user,
            team=transfer.to_team,
            custodian=None,
        )
        transfer.decided_by, transfer.decided_at, transfer.comment = (
            actor,
            timezone.now(),
            comment,
        )
        transfer.save(update_fields=["state", "decided_by", "decided_at", "comment"])
        _record(actor, transfer, "approved", comment)
        notify_many(
            users=[transfer.from_user, transfer.to_user],
            kind="ownership.transfer_approved",
            subject=f"The transfer of VM {transfer.vm} was approved",
            body=comment,
            link=vm_link(transfer.vm_id),
        )
    return transfer


def transfer_reject(*, actor: User, transfer: Transfer, comment: str = "") -> Transfer:
    """The receiver (while offered) or a manager of the receiving team turns it down."""
    with transaction.atomic():
        transfer = _locked_transfer(transfer)
        is_receiver = actor.pk == transfer.to_user_id and transfer.state == TransferState.OFFERED
        if not is_receiver and not (
            actor.pk != transfer.to_user_id
            and is_team_manager(user=actor, team_id=transfer.to_team_id)
        ):
            raise ValidationError("Only the receiver or a manager of the team can reject this.")
        _move(transfer, TRANSFER_TRANSITIONS, TransferState.REJECTED)
        transfer.decided_by, transfer.decided_at, transfer.comment = (
            actor,
            timezone.now(),
            comment,
        )
        transfer.save(update_fields=["state", "decided_by", "decided_at", "comment"])
        _record(actor, transfer, "rejected", comment)
        notify(
            user=transfer.from_user,
            kind="ownership.transfer_rejected",
            subject=f"Your transfer of VM {transfer.vm} was rejected",
            body=comment,
            link=vm_link(transfer.vm_id),
        )
    return transfer


def transfer_cancel(*, actor: User, transfer: Transfer) -> Transfer:
    """The offering owner withdraws an open transfer."""
    with transaction.atomic():
        transfer = _locked_transfer(transfer)
        if actor.pk != transfer.from_user_id:
            raise ValidationError("Only the owner who offered the VM can cancel the transfer.")
        _move(transfer, TRANSFER_TRANSITIONS, TransferState.CANCELLED)
        transfer.decided_by, transfer.decided_at = actor, timezone.now()
        transfer.save(update_fields=["state", "decided_by", "decided_at"])
        _record(actor, transfer, "cancelled")
    return transfer


__all__ = [
    "claim_approve",
    "claim_cancel",
    "claim_create",
    "claim_reject",
    "transfer_accept",
    "transfer_approve",
    "transfer_cancel",
    "transfer_offer",
    "transfer_reject",
]
