"""Ownership over a VM's life: its lease, its data classification, a holder who leaves.

Same command shape as :mod:`governance.ownership.services`.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from governance.accounts.models import User
from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from governance.ownership.models import (
    Claim,
    ClaimState,
    Ownership,
    OwnershipSource,
    Transfer,
    TransferState,
)
from governance.ownership.services_ledger import (
    KEEP,
    Holders,
    check_reason,
    managers_of,
    ownership_change,
    ownership_current,
    ownership_row_open,
    vm_link,
)
from inventory.models import Classification, VirtualMachine


def lease_set(*, actor: User, vm: VirtualMachine, lease_end: date | None, reason: str) -> Ownership:
    """Set or clear a VM's lease end (an extension is approved by calling this)."""
    if lease_end is not None and lease_end < timezone.localdate():
        raise ValidationError({"lease_end": "A lease cannot end in the past."})
    return ownership_change(
        actor=actor,
        vm=vm,
        source=OwnershipSource.LEASE,
        reason=check_reason(reason),
        lease_end=lease_end,
    )


def lease_extend_request(*, actor: User, vm: VirtualMachine, until: date, reason: str) -> None:
    """The owner or custodian asks for a later lease end; the team's managers are told.

    Nothing about the lease changes until someone with the right calls ``lease_set``.
    ``ValidationError`` when the actor does not answer for the VM, the VM has no lease,
    or ``until`` is not after the current end.
    """
    reason = check_reason(reason)
    with transaction.atomic():
        current = ownership_current(vm_id=vm.pk, lock=True)
        if current is None or actor.pk not in (current.owner_id, current.custodian_id):
            raise ValidationError(
                "Only the owner or custodian of a VM can ask to extend its lease."
            )
        if current.lease_end is None:
            raise ValidationError(f"VM {vm} has no lease to extend.")
        if until <= current.lease_end:
            raise ValidationError(
                {"until": f"Ask for a date after the current end ({current.lease_end})."}
            )
        audit_record(
            actor=actor,
            action="ownership.lease_extend_request",
            target=vm,
            before={"lease_end": current.lease_end},
            after={"lease_end": until, "reason": reason},
        )
        notify_many(
            users=managers_of(current.team_id),
            kind="lease.extension_request",
            subject=f"{actor.get_username()} asks to extend the lease of VM {vm} to {until}",
            body=reason,
            link=vm_link(vm.pk),
        )


def classification_set(
    *, actor: User, vm: VirtualMachine, classification: str, reason: str
) -> VirtualMachine:
    """Classify a VM's data (public, internal, sensitive); audited with the reason."""
    if classification not in Classification.values:
        raise ValidationError(
            {"classification": f"Choose one of: {', '.join(Classification.values)}."}
        )
    reason = check_reason(reason)
    with transaction.atomic():
        vm = VirtualMachine.objects.select_for_update().get(pk=vm.pk)
        if vm.classification == classification:
            return vm
        before = vm.classification
        vm.classification = classification
        vm.save(update_fields=["classification"])
        audit_record(
            actor=actor,
            action="vm.classification_set",
            target=vm,
            before={"classification": before},
            after={"classification": classification, "reason": reason},
        )
    return vm


def ownership_on_user_deactivated(*, user_id: int) -> int:
    """Record in each VM's history that a holder left; how many VMs were touched.

    The owner stays on the row (the VM then shows under "owner left" until someone is
    assigned); a departed custodian is removed, since nobody can reach them. Their
    pending claims and open transfers are cancelled. Idempotent for an inactive user:
    rows already opened for their departure are not opened again.
    """
    user = User.objects.get(pk=user_id)
    if user.is_active:
        return 0
    reason = f"{user.get_username()} was deactivated"
    with transaction.atomic():
        rows = list(
            Ownership.objects.select_for_update()
            .filter(Q(owner_id=user_id) | Q(custodian_id=user_id), until__isnull=True)
            .exclude(source=OwnershipSource.DEACTIVATION, reason=reason)
            .select_related("vm")
        )
        now = timezone.now()
        for row in rows:
            after = Holders.of(row)
            if row.custodian_id == user_id:
                after = after.changed(owner=KEEP, custodian=None, team=KEEP, lease_end=KEEP)
            ownership_row_open(
                vm_id=row.vm_id,
                current=row,
                holders=after,
                actor=None,
                source=OwnershipSource.DEACTIVATION,
                reason=reason,
                now=now,
            )
        cancelled_claims = Claim.objects.filter(
            claimant_id=user_id, state=ClaimState.PENDING
        ).update(state=ClaimState.CANCELLED, decided_at=now, comment=reason)
        cancelled_transfers = Transfer.objects.filter(
            Q(from_user_id=user_id) | Q(to_user_id=user_id),
            state__in=[TransferState.OFFERED, TransferState.ACCEPTED],
        ).update(state=TransferState.CANCELLED, decided_at=now, comment=reason)
        if rows or cancelled_claims or cancelled_transfers:
            audit_record(
                actor=None,
                action="ownership.deactivation",
                target=user,
                after={
                    "vms": sorted(row.vm_id for row in rows),
                    "claims_cancelled": cancelled_claims,
                    "transfers_cancelled": cancelled_transfers,
                },
            )
            # The VMs now need someone: tell the managers of the teams concerned.
            for team_id in {row.team_id for row in rows}:
                notify_many(
                    users=managers_of(team_id),
                    kind="ownership.owner_left",
                    subject=f"{user.get_username()} left; their VMs need a new owner",
                    link=reverse("inventory:vms"),
                )
    return len(rows)
