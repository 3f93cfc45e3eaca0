"""Granting exemptions, and their expiry.

``exemption_grant`` excuses one VM from one policy until a date; it is called by an
approved ``exception`` request and refuses a granter who owns the VM (nobody exempts
their own guest). Expiry: when an exemption's ``until`` passes, the violations it waived are
no longer waived, so the next reconcile reports and (in enforce mode) remediates them.

Level-triggered and idempotent: an expired exemption changes something only while
violations it covered still say ``waived``; running it twice changes nothing the second
time. Owners, custodians and the granter are told once (notifications de-duplicate).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from inventory.models import VirtualMachine
from policy.models import Exemption, Policy, RemediationState, Violation


def exemption_grant(
    *,
    granted_by: Any,
    policy: Policy,
    vm: VirtualMachine,
    until: datetime,
    reason: str,
    request_id: int | None = None,
    rule_key: str = "",
    now: datetime | None = None,
) -> Exemption:
    """Exempt ``vm`` from ``policy`` (or one finding key of it) until ``until``.

    Refused (``PermissionDenied``) when ``granted_by`` is the VM's current owner, and
    (``ValidationError``) for a date not in the future or an empty reason. Granting for a
    request that already has its exemption returns that one (an execution step re-run after
    a crash grants once). Audited in the same transaction.
    """
    from governance.ownership.selectors import ownership_of

    now = now or timezone.now()
    if until <= now:
        raise ValidationError({"until": "An exemption must end in the future."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the VM is exempted."})
    with transaction.atomic():
        VirtualMachine.objects.select_for_update().filter(pk=vm.pk).first()
        current = ownership_of(vm=vm)
        if current is not None and current.owner_id == granted_by.pk:
            raise PermissionDenied("An exemption is never granted by the VM's own owner.")
        if request_id is not None:
            earlier = Exemption.objects.filter(request_id=request_id).first()
            if earlier is not None:
                return earlier
        exemption = Exemption.objects.create(
            policy=policy,
            vm=vm,
            rule_key=rule_key,
            until=until,
            reason=reason.strip(),
            granted_by=granted_by,
            granted_at=now,
            request_id=request_id,
        )
        audit_record(
            actor=granted_by,
            action="policy.exemption.granted",
            target=exemption,
            after={
                "policy": policy.pk,
                "vm": vm.pk,
                "rule_key": rule_key,
                "until": until.isoformat(),
                "request": request_id,
            },
        )
    return exemption


def _still_exempt(violation: Violation, now: datetime) -> bool:
    return (
        Exemption.objects.filter(
            policy_id=violation.policy_id,
            vm_id=violation.vm_id,
            revoked_at__isnull=True,
            until__gt=now,
        )
        .filter(Q(rule_key="") | Q(rule_key=violation.rule_key))
        .exists()
    )


def _recipients(exemption: Exemption) -> list:
    from governance.ownership.selectors import ownership_of

    people = [exemption.granted_by]
    current = ownership_of(vm=exemption.vm)
    if current is not None:
        people += [current.owner, current.custodian]
    return [p for p in people if p is not None]


def exemptions_expire(*, now: datetime | None = None) -> list[int]:
    """Un-waive the violations of exemptions that ended; returns those exemptions' ids."""
    now = now or timezone.now()
    ended = Exemption.objects.filter(Q(until__lte=now) | Q(revoked_at__lte=now)).select_related(
        "policy", "vm", "granted_by"
    )
    processed: list[int] = []
    for exemption in ended:
        with transaction.atomic():
            waived = Violation.objects.select_for_update().filter(
                policy_id=exemption.policy_id,
                vm_id=exemption.vm_id,
                resolved_at__isnull=True,
                remediation_state=RemediationState.WAIVED,
            )
            if exemption.rule_key:
                waived = waived.filter(rule_key=exemption.rule_key)
            lapsed = [v for v in waived if not _still_exempt(v, now)]
            if not lapsed:
                continue
            Violation.objects.filter(pk__in=[v.pk for v in lapsed]).update(
                remediation_state=RemediationState.NONE
            )
            audit_record(
                actor=None,
                action="policy.exemption.expired",
                target=exemption,
                after={"violations": [v.pk for v in lapsed], "until": exemption.until.isoformat()},
            )
            vm = exemption.vm
            notify_many(
                users=_recipients(exemption),
                kind="policy.exemption_expired",
                subject=f"Exemption from {exemption.policy.name} ended for {vm.name or vm.vmid}",
                body="The policy applies to this VM again from now on; open violations are "
                "reported and, in enforce mode, remediated at the next reconcile.",
                link=f"/inventory/vms/{vm.pk}/",
            )
            processed.append(exemption.pk)
    return processed
