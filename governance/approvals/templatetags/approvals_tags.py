"""Template tags that let other apps' pages offer requests without importing approvals."""

from __future__ import annotations

from typing import Any

from django import template

from governance.approvals.forms import VM_KINDS
from governance.approvals.lists import request_for_vm
from governance.approvals.models import RequestKind
from inventory.models import VirtualMachine

register = template.Library()


@register.inclusion_tag("approvals/_vm_section_body.html", takes_context=True)
def approvals_vm_section(context: dict[str, Any], vm: VirtualMachine) -> dict[str, Any]:
    """The VM page's requests section; ``vm`` is already visible to the requesting user.

    A gone guest offers no new request (there is nothing left to act on) but still lists
    the requests made about it.
    """
    user = context["request"].user
    kinds = [] if vm.gone_since else [(kind, RequestKind(kind).label) for kind in VM_KINDS]
    return {"vm": vm, "kinds": kinds, "requests": request_for_vm(user=user, vm_id=vm.pk)}
