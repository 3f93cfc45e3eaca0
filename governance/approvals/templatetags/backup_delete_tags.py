"""The violation page's "Request deletion" offer for a backup on removable storage.

Lives with approvals so the policy templates offer the request without policy importing
approvals; the violation is already visible to the user viewing its page.
"""

from __future__ import annotations

from typing import Any

from django import template

from governance.approvals.lists import request_visible
from governance.approvals.models import RequestKind
from governance.approvals.services.backup_delete import backup_delete_standing, backups_open
from policy.models import Violation

register = template.Library()

_PREFIX = "backup:"


@register.inclusion_tag("approvals/_backup_delete_offer.html", takes_context=True)
def backup_delete_offer(context: dict[str, Any], violation: Violation) -> dict[str, Any]:
    """For a ``backup:<volid>`` violation: the requests made to delete that backup, and a
    link to request it while the violation is open, the VM exists, the ledger still
    holds the backup and no request for it stands."""
    if not violation.rule_key.startswith(_PREFIX) or violation.vm is None:
        return {"show": False}
    user = context["request"].user
    vm, volid = violation.vm, violation.rule_key.removeprefix(_PREFIX)
    made = request_visible(user=user).filter(
        kind=RequestKind.BACKUP_DELETE, vm=vm, parameters__volid=volid
    )
    standing = backup_delete_standing(vm_id=vm.pk, volid=volid)
    offer = (
        violation.resolved_at is None
        and vm.gone_since is None
        and standing is None
        and backups_open(vm).filter(name=volid).exists()
    )
    return {
        "show": True,
        "offer": offer,
        "standing": standing is not None,
        "vm": vm,
        "volid": volid,
        "violation": violation,
        "requests": list(made.order_by("created_at", "id")),
    }
