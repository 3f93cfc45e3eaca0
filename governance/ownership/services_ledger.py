"""The ownership ledger's primitives: the holders of a row, opening the next row, checks.

``ownership_change`` is the single-VM command every other ownership command goes
through (see :mod:`governance.ownership.services` for the command shape and ``KEEP``).
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

from governance.accounts.models import TeamMembership, User
from governance.accounts.roles import Role
from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from governance.ownership.mirror import mirror_after_commit
from governance.ownership.models import Ownership
from inventory.models import VirtualMachine


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

    def row(
        self, *, vm_id: int, since: datetime, set_by: User | None, source: str, reason: str
    ) -> Ownership:
        """The (unsaved) ledger row saying these holders from ``since``."""
        return Ownership(
            vm_id=vm_id,
            owner_id=self.owner_id,
            custodian_id=self.custodian_id,
            team_id=self.team_id,
            lease_end=self.lease_end,
            since=since,
            set_by=set_by,
            source=source,
            reason=reason,
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


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why ownership changes; the history keeps it."})
    return reason


def check_people(*, owner: Any, custodian: Any) -> None:
    errors: dict[str, str] = {}
    for field, user in (("owner", owner), ("custodian", custodian)):
        if user is not KEEP and user is not None and not user.is_active:
            errors[field] = (
                f"{user.get_username()} is deactivated and cannot answer for a VM; "
                "choose an active user."
            )
    if errors:
        raise ValidationError(errors)


def check_live(vm: VirtualMachine) -> None:
    if vm.gone_since is not None:
        raise ValidationError(f"VM {vm} no longer exists in Proxmox; its ownership is frozen.")


def ownership_current(*, vm_id: int, lock: bool = False) -> Ownership | None:
    rows = Ownership.objects.filter(vm_id=vm_id, until__isnull=True)
    return (rows.select_for_update() if lock else rows).first()


def ownership_row_open(
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
            row = holders.row(vm_id=vm_id, since=now, set_by=actor, source=source, reason=reason)
            row.save(force_insert=True)
            return row
    except IntegrityError as error:  # another writer opened a row since we looked
        raise ValidationError(
            "The ownership of this VM changed at the same moment; reload and try again."
        ) from error


def notify_new_holders(*, vm: VirtualMachine, holders: Holders, before: Holders) -> None:
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
    check_people(owner=owner, custodian=custodian)
    with transaction.atomic():
        vm = VirtualMachine.objects.get(pk=vm.pk)
        check_live(vm)
        current = ownership_current(vm_id=vm.pk, lock=True)
        if require_unowned and current is not None and current.owner_id is not None:
            raise ValidationError(f"VM {vm} already has an owner; nothing changed.")
        before = Holders.of(current)
        after = before.changed(owner=owner, custodian=custodian, team=team, lease_end=lease_end)
        if current is not None and after == before:
            return current
        now = timezone.now()
        row = ownership_row_open(
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
        notify_new_holders(vm=vm, holders=after, before=before)
        if (after.owner_id, after.team_id) != (before.owner_id, before.team_id):
            mirror_after_commit([vm.pk])
    return row


def managers_of(team_id: int | None) -> QuerySet[User]:
    """Active managers of the team; the admins when there is no team."""
    if team_id is None:
        return User.objects.filter(
            Q(is_superuser=True) | Q(groups__name=Role.ADMIN.value), is_active=True
        ).distinct()
    return User.objects.filter(
        team_memberships__team_id=team_id, team_memberships__is_manager=True, is_active=True
    )


def is_team_manager(*, user: User, team_id: int) -> bool:
    return TeamMembership.objects.filter(user=user, team_id=team_id, is_manager=True).exists()
