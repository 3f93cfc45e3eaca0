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

This module holds assignment (single, bulk, at birth) and is the import path for every
ownership command; the ledger primitives live in ``services_ledger``, leases,
classification and departures in ``services_lifecycle``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from governance.accounts.models import Team, User
from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from governance.ownership.events import holders_changed_send
from governance.ownership.mirror import mirror_after_commit
from governance.ownership.models import Ownership, OwnershipSource
from governance.ownership.services_ledger import (
    KEEP,
    Holders,
    check_people,
    check_reason,
    is_team_manager,
    managers_of,
    ownership_change,
    ownership_current,
    vm_link,
)
from governance.ownership.services_lifecycle import (
    classification_set,
    lease_extend_request,
    lease_set,
    ownership_on_user_deactivated,
)
from inventory.models import VirtualMachine

__all__ = [
    "KEEP",
    "Holders",
    "classification_set",
    "is_team_manager",
    "lease_extend_request",
    "lease_set",
    "managers_of",
    "ownership_assign",
    "ownership_assign_bulk",
    "ownership_at_birth",
    "ownership_change",
    "ownership_current",
    "ownership_on_user_deactivated",
    "vm_link",
]


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
        reason=check_reason(reason),
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
    reason = check_reason(reason)
    check_people(owner=owner, custodian=custodian)
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
            after.row(
                vm_id=vm_id, since=now, set_by=actor, source=OwnershipSource.BULK, reason=reason
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
        holders_changed_send(changes)
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
