"""Template tags that let inventory's VM page show ownership without importing ownership."""

from __future__ import annotations

from typing import Any

from django import template

from governance.ownership.forms import (
    AssignForm,
    ClaimForm,
    ClassificationForm,
    LeaseExtensionForm,
    TransferOfferForm,
)
from governance.ownership.panel import ASSIGN_PREFIX, vm_panel
from governance.ownership.selectors import inbox_count
from inventory.models import VirtualMachine

register = template.Library()


@register.inclusion_tag("ownership/_vm_section_body.html", takes_context=True)
def ownership_vm_section(context: dict[str, Any], vm: VirtualMachine) -> dict[str, Any]:
    """The VM page's ownership section; ``vm`` is already visible to the requesting user.

    Forms are built only for the actions the panel offers this viewer.
    """
    request = context["request"]
    panel = vm_panel(user=request.user, vm=vm)
    forms: dict[str, Any] = {}
    if panel.can_claim:
        forms["claim"] = ClaimForm(user=request.user)
    if panel.can_offer:
        forms["offer"] = TransferOfferForm()
    if panel.can_request_extension:
        forms["extension"] = LeaseExtensionForm()
    if panel.can_assign:
        current = panel.current
        forms["assign"] = AssignForm(
            prefix=ASSIGN_PREFIX,
            initial={
                "owner": current.owner.get_username() if current and current.owner else "",
                "custodian": current.custodian.get_username()
                if current and current.custodian
                else "",
                "team": current.team.slug if current and current.team else None,
                "lease_end": current.lease_end if current else None,
            },
        )
    if panel.can_classify:
        forms["classify"] = ClassificationForm(initial={"classification": vm.classification})
    return {
        "panel": panel,
        "forms": forms,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag(takes_context=True)
def ownership_inbox_count(context: dict[str, Any]) -> int:
    """Claims and transfers waiting for the signed-in user (two indexed counts)."""
    user = context["request"].user
    return inbox_count(user) if user.is_authenticated else 0
