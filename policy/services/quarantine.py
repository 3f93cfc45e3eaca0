"""Quarantine commands: a security officer's manual quarantine and lift, and the release of
quarantines whose cause is resolved (beat, ``policy.tasks.quarantines_check``).

Lifting a policy's quarantine once its cause is resolved is the reconciler's (it plans a
``quarantine_lift`` remediation). Each command has one shape: one transaction, the rows
it changes locked, the audit event written in it, the remediation steps queued on commit.
The Proxmox work is done by the ``quarantine_apply`` / ``quarantine_lift`` executors
(``policy.remediation.quarantine``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.audit.services import audit_record
from inventory.models import VirtualMachine
from policy.models import (
    ACTIVE_REMEDIATION_STATES,
    QUARANTINE_TRANSITIONS,
    ActionKind,
    Quarantine,
    QuarantineCause,
    QuarantineState,
    Remediation,
    RemediationRunState,
)
from policy.remediation import remediations_queue


def _busy(vm_id: int) -> bool:
    return Remediation.objects.filter(
        vm_id=vm_id, state__in=ACTIVE_REMEDIATION_STATES, dry_run=False
    ).exists()


def quarantine_apply(
    *, vm: VirtualMachine, reason: str, actor: Any, now: datetime | None = None
) -> Quarantine:
    """Quarantine ``vm`` by hand (cause ``manual``); lifted only by hand."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValidationError("Say why the VM is quarantined.")
    with transaction.atomic():
        VirtualMachine.objects.select_for_update().get(pk=vm.pk)
        if Quarantine.objects.filter(vm=vm, lifted_at__isnull=True).exists():
            raise ValidationError("This VM is already quarantined.")
        if _busy(vm.pk):
            raise ValidationError("A remediation of this VM is in progress; try again shortly.")
        quarantine = Quarantine.objects.create(
            vm=vm, cause=QuarantineCause.MANUAL, reason=reason, since=now
        )
        remediation = Remediation.objects.create(
            quarantine=quarantine,
            cluster_id=vm.cluster_id,
            vm=vm,
            action=ActionKind.QUARANTINE_APPLY,
            params={"cause": QuarantineCause.MANUAL, "reason": reason},
            description=f"Quarantine {vm.name or vm.vmid}",
            requested_by=actor,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="policy.quarantine.apply",
            target=quarantine,
            after={"vm": vm.pk, "reason": reason, "remediation": remediation.pk},
        )
        remediations_queue([remediation.pk])
    return quarantine


def quarantine_lift(
    *, quarantine: Quarantine, actor: Any, reason: str = "", now: datetime | None = None
) -> Remediation:
    """Start lifting ``quarantine``: its state goes ``lifting`` and a lift remediation
    removes the firewall rule; ``lifted_at`` is set once Proxmox shows it gone."""
    now = now or timezone.now()
    with transaction.atomic():
        q = Quarantine.objects.select_for_update().get(pk=quarantine.pk)
        if q.lifted_at is not None or q.applied_state == QuarantineState.LIFTING:
            raise ValidationError("This quarantine is already lifted or being lifted.")
        if QuarantineState.LIFTING not in QUARANTINE_TRANSITIONS[q.applied_state]:
            raise ValidationError(
                f"A quarantine that is {q.get_applied_state_display().lower()} cannot be "
                "lifted yet; wait for it to be applied."
            )
        if _busy(q.vm_id):
            raise ValidationError("A remediation of this VM is in progress; try again shortly.")
        q.applied_state = QuarantineState.LIFTING
        q.lifted_by = actor if actor is not None and actor.is_authenticated else None
        q.save(update_fields=["applied_state", "lifted_by"])
        applied = (
            Remediation.objects.filter(
                vm_id=q.vm_id,
                action=ActionKind.QUARANTINE_APPLY,
                state=RemediationRunState.DONE,
                finished_at__gte=q.since,
            )
            .order_by("-finished_at")
            .first()
        )
        was_enabled = (applied.params if applied else {}).get("firewall_was_enabled", True)
        remediation = Remediation.objects.create(
            quarantine=q,
            cluster_id=q.vm.cluster_id,
            vm_id=q.vm_id,
            action=ActionKind.QUARANTINE_LIFT,
            params={"quarantine_id": q.pk, "firewall_was_enabled": was_enabled},
            description=f"Lift the quarantine of {q.vm.name or q.vm.vmid}",
            requested_by=q.lifted_by,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="policy.quarantine.lift",
            target=q,
            after={"vm": q.vm_id, "reason": reason, "remediation": remediation.pk},
        )
        remediations_queue([remediation.pk])
    return remediation
