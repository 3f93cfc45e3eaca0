"""Changing who answers for a VM: assignment (single, bulk, at birth), leases, deactivation.

Every command has one shape: one transaction; lock the current ownership rows (or, for
a VM that has none yet, rely on the one-current-row constraint); check, with a
``ValidationError`` that says what to do and changes nothing; close the current row and
open the next one (the ledger is append-only); audit; notify; side effects on commit.

Callers (views, API) check that the actor may act at all (admin rights for assignment);
services check everything about the data, and the rules of claims and transfers
(``services_workflows``).

Fields passed as ``KEEP`` (the default) carry over from the current row; ``None``
clears them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role
from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from governance.ownership.mirror import mirror_after_commit
from governance.ownership.models import (
    Claim,
    ClaimState,
    Ownership,
    OwnershipSource,
    Transfer,
    TransferState,
)
from inventory.models import Classification, VirtualMachine


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final[Any] = _Keep()


@dataclass(frozen=True)
class Holders:
    """What an ownership row says, without its period: compared to skip no-op changes."""

    owner_id: int | None = None
    custodian_id: int | None = None
    team_id: int | None = None
    lease_end: date | None = None

    @classmethod
    def of(cls, row: Ownership | None) -> Holders:
        if row is None:
            return cls()
        return cls(row.owner_id, row.custodian_id, row.team_id, row.lease_end)

    def changed(self, *, owner: Any, custodian: Any, team: Any, lease_end: Any) -> Holders:
        return Holders(
            owner_id=self.owner_id if owner is KEEP else _pk(owner),
            custodian_id=self.custodian_id if custodian is KEEP else _pk(custodian),
            team_id=self.team_id if team is KEEP else _pk(team),
            lease_end=self.lease_end if lease_end is KEEP else lease_end,
        )

    def as_audit(self) -> dict[str, Any]:
        return {
            "owner": self.owner_id,
            "custodian": self.custodian_id,
            "team": self.team_id,
            "lease_end": self.lease_end,
        }


def _pk(obj: Any) -> int | None:
    return None if obj is None else obj.pk


def vm_link(vm_id: int) -> str:
    return reverse("inventory:vm", args=[vm_id])


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why ownership changes; the history keeps it."})
    return reason


def _check_people(*, owner: Any, custodian: Any) -> None:
    errors: dict[str, str] = {}
    for field, user in (("owner", owner), ("custodian", custodian)):
        if user is not KEEP and user is not None and not user.is_active:
            errors[field] = (
                f"{user.get_username()} is deactivated and cannot answer for a VM; "
                "choose an active user."
            )
    if errors:
        raise ValidationError(errors)


def _check_live(vm: VirtualMachine) -> None:
    if vm.gone_since is not None:
        raise ValidationError(f"VM {vm} no longer exists in Proxmox; its ownership is frozen.")


def ownership_current(*, vm_id: int, lock: bool = False) -> Ownership | None:
    rows = Ownership.objects.filter(vm_id=vm_id, until__isnull=True)
    return (rows.select_for_update() if lock else rows).first()


def _open(
    *,
    vm_id: int,
    current: Ownership | None,
    holders: Holders,
    actor: User | None,
    source: str,
    reason: str,
    now: datetime,
) -> Ownership:
    """Close ``current`` (if any) and open the row saying ``holders``; the new row."""
    if current is not None:
        Ownership.objects.filter(pk=current.pk).update(until=now)
    try:
        with transaction.atomic():
            return Ownership.objects.create(
                vm_id=vm_id,
                owner_id=holders.owner_id,
                custodian_id=holders.custodian_id,
                team_id=holders.team_id,
                lease_end=holders.lease_end,
                since=now,
                set_by=actor,
                source=source,
                reason=reason,
            )
    except IntegrityError as error:  # another writer opened a row since we looked
        raise ValidationError(
            "The ownership of this VM changed at the same moment; reload and try again."
        ) from error


def _notify_new_holders(*, vm: VirtualMachine, holders: Holders, before: Holders) -> None:
    newcomers = {holders.owner_id, holders.custodian_id} - {before.owner_id, before.custodian_id}
    newcomers.discard(None)
    if not newcomers:
        return
    notify_many(
        users=User.objects.filter(pk__in=newcomers),
        kind="ownership.assigned",
        subject=f"You now answer for VM {vm}",
        body="You were made its owner or custodian.",
        link=vm_link(vm.pk),
    )


def ownership_change(
    *,
    actor: User | None,
    vm: VirtualMachine,
    source: str,
    reason: str,
    owner: Any = KEEP,
    custodian: Any = KEEP,
    team: Any = KEEP,
    lease_end: Any = KEEP,
    require_unowned: bool = False,
) -> Ownership:
    """The single-VM command behind assignment, leases, claims, transfers and birth.

    Opens a row saying the changed holders unless nothing differs (then the current row
    is returned). ``require_unowned`` refuses a VM that has an owner already.
    """
    _check_people(owner=owner, custodian=custodian)
    with transaction.atomic():
        vm = VirtualMachine.objects.get(pk=vm.pk)
        _check_live(vm)
        current = ownership_current(vm_id=vm.pk, lock=True)
        if require_unowned and current is not None and current.owner_id is not None:
            raise ValidationError(f"VM {vm} already has an owner; nothing changed.")
        before = Holders.of(current)
        after = before.changed(owner=owner, custodian=custodian, team=team, lease_end=lease_end)
        if current is not None and after == before:
            return current
        now = timezone.now()
        row = _open(
            vm_id=vm.pk,
            current=current,
            holders=after,
            actor=actor,
            source=source,
            reason=reason,
            now=now,
        )
        audit_record(
            actor=actor,
            action=f"ownership.{source}",
            target=vm,
            before=before.as_audit() if current is not None else None,
            after={**after.as_audit(), "reason": reason},
        )
        _notify_new_holders(vm=vm, holders=after, before=before)
        if (after.owner_id, after.team_id) != (before.owner_id, before.team_id):
            mirror_after_commit([vm.pk])
    return row


def ownership_assign(
    *,
    actor: User,
    vm: VirtualMachine,
    owner: Any = KEEP,
    custodian: Any = KEEP,
    team: Any = KEEP,
    lease_end: Any = KEEP,
    reason: str,
) -> Ownership:
    """An admin sets who answers for one VM; the current row (unchanged if nothing differs).

    ``ValidationError`` for a deactivated owner or custodian, a destroyed VM or an empty
    reason; nothing is written then.
    """
    return ownership_change(
        actor=actor,
        vm=vm,
        source=OwnershipSource.ADMIN,
        reason=_check_reason(reason),
        owner=owner,
        custodian=custodian,
        team=team,
        lease_end=lease_end,
    )


def ownership_assign_bulk(
    *,
    actor: User,
    vms_qs: QuerySet[VirtualMachine],
    owner: Any = KEEP,
    custodian: Any = KEEP,
    team: Any = KEEP,
    lease_end: Any = KEEP,
    reason: str,
) -> int:
    """Assign every live VM of ``vms_qs`` at once; how many VMs changed.

    One transaction: the current rows are locked, closed with one UPDATE and their
    successors written with one INSERT, so each VM's history is as complete as after
    single assignments. One audit event lists the VMs. VMs whose holders would not
    change are left alone. Destroyed VMs in ``vms_qs`` are skipped.
    """
    reason = _check_reason(reason)
    _check_people(owner=owner, custodian=custodian)
    with transaction.atomic():
        vm_ids = list(
            vms_qs.filter(gone_since__isnull=True).order_by().values_list("pk", flat=True)
        )
        current = {
            row.vm_id: row
            for row in Ownership.objects.select_for_update().filter(
                until__isnull=True, vm_id__in=vm_ids
            )
        }
        changes: dict[int, tuple[Holders, Holders]] = {}
        for vm_id in vm_ids:
            before = Holders.of(current.get(vm_id))
            after = before.changed(owner=owner, custodian=custodian, team=team, lease_end=lease_end)
            if vm_id not in current or after != before:
                changes[vm_id] = (before, after)
        if not changes:
            return 0
        now = timezone.now()
        closing = [current[vm_id].pk for vm_id in changes if vm_id in current]
        Ownership.objects.filter(pk__in=closing).update(until=now)
        rows = [
            Ownership(
                vm_id=vm_id,
                owner_id=after.owner_id,
                custodian_id=after.custodian_id,
                team_id=after.team_id,
                lease_end=after.lease_end,
                since=now,
                set_by=actor,
                source=OwnershipSource.BULK,
                reason=reason,
            )
            for vm_id, (_, after) in changes.items()
        ]
        try:
            with transaction.atomic():
                Ownership.objects.bulk_create(rows, batch_size=1000)
        except IntegrityError as error:
            raise ValidationError(
                "Some of these VMs changed ownership at the same moment; reload and try again."
            ) from error
        sample = next(iter(changes.values()))[1]
        audit_record(
            actor=actor,
            action="ownership.bulk",
            after={**sample.as_audit(), "vms": sorted(changes), "reason": reason},
        )
        _notify_bulk(changes)
        mirror_after_commit(
            vm_id
            for vm_id, (before, after) in changes.items()
            if (after.owner_id, after.team_id) != (before.owner_id, before.team_id)
        )
    return len(changes)


def _notify_bulk(changes: dict[int, tuple[Holders, Holders]]) -> None:
    """One notification per newcomer for the whole batch (never one per VM)."""
    counts: dict[int, int] = {}
    for before, after in changes.values():
        for user_id in {after.owner_id, after.custodian_id} - {
            before.owner_id,
            before.custodian_id,
        }:
            if user_id is not None:
                counts[user_id] = counts.get(user_id, 0) + 1
    for user in User.objects.filter(pk__in=counts):
        notify_many(
            users=[user],
            kind="ownership.assigned_bulk",
            subject=f"You now answer for {counts[user.pk]} more VM(s)",
            body="An admin made you their owner or custodian.",
            link=reverse("inventory:vms"),
        )


def ownership_at_birth(
    *,
    vm: VirtualMachine,
    requester: User,
    team: Team | None,
    custodian: User | None = None,
    lease_end: date | None = None,
    actor: User | None = None,
    reason: str = "created through Steward",
) -> Ownership:
    """A VM created through Steward is owned by its requester from its first row.

    ``actor`` is who approved the creation (None: the system). ``ValidationError`` if the
    VM already has an ownership record or the requester is deactivated.
    """
    if Ownership.objects.filter(vm_id=vm.pk).exists():
        raise ValidationError(f"VM {vm} already has an ownership record.")
    return ownership_change(
        actor=actor,
        vm=vm,
        source=OwnershipSource.BIRTH,
        reason=reason,
        owner=requester,
        custodian=custodian,
        team=team,
        lease_end=lease_end,
    )


def lease_set(*, actor: User, vm: VirtualMachine, lease_end: date | None, reason: str) -> Ownership:
    """Set or clear a VM's lease end (an extension is approved by calling this)."""
    if lease_end is not None and lease_end < timezone.localdate():
        raise ValidationError({"lease_end": "A lease cannot end in the past."})
    return ownership_change(
        actor=actor,
        vm=vm,
        source=OwnershipSource.LEASE,
        reason=_check_reason(reason),
        lease_end=lease_end,
    )


def managers_of(team_id: int | None) -> QuerySet[User]:
    """Active managers of the team; the admins when there is no team."""
    if team_id is None:
        return User.objects.filter(
            Q(is_superuser=True) | Q(groups__name=Role.ADMIN.value), is_active=True
        ).distinct()
    return User.objects.filter(
        team_memberships__team_id=team_id, team_memberships__is_manager=True, is_active=True
    )


def lease_extend_request(*, actor: User, vm: VirtualMachine, until: date, reason: str) -> None:
    """The owner or custodian asks for a later lease end; the team's managers are told.

    Nothing about the lease changes until someone with the right calls ``lease_set``.
    ``ValidationError`` when the actor does not answer for the VM, the VM has no lease,
    or ``until`` is not after the current end.
    """
    reason = _check_reason(reason)
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
    reason = _check_reason(reason)
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
            _open(
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


def is_team_manager(*, user: User, team_id: int) -> bool:
    return TeamMembership.objects.filter(user=user, team_id=team_id, is_manager=True).exists()
