"""An owner's or custodian's confirmation that a guest is patched (and re-keyed), which
ends the patch debt of a dormancy or a rollback at the next reconcile."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from governance.audit.services import audit_record
from governance.ownership.models import Ownership
from inventory.models import VirtualMachine
from policy.models import PatchConfirmation


def patch_confirm(*, actor: Any, vm: VirtualMachine, note: str = "") -> PatchConfirmation:
    """Record that ``actor`` (the guest's current owner or custodian) confirms it patched."""
    with transaction.atomic():
        holders = Ownership.objects.filter(vm=vm, until__isnull=True).values_list(
            "owner_id", "custodian_id"
        )
        if not any(actor.pk in row for row in holders):
            raise PermissionDenied("Only the VM's owner or custodian can confirm it is patched.")
        confirmation = PatchConfirmation.objects.create(
            vm=vm, confirmed_by=actor, confirmed_at=timezone.now(), note=note
        )
        audit_record(actor=actor, action="policy.patch_confirmed", target=vm, after={"note": note})
    return confirmation
