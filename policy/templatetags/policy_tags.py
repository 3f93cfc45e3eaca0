"""Template tags that let other apps' pages show policy facts without importing policy."""

from __future__ import annotations

from typing import Any

from django import template

from inventory.models import VirtualMachine
from policy.evidence import EvidenceItem, evidence_items
from policy.lists import vm_policy_section

register = template.Library()


@register.inclusion_tag("policy/_vm_section_body.html", takes_context=True)
def policy_vm_section(context: dict[str, Any], vm: VirtualMachine) -> dict[str, Any]:
    """The VM page's policy section; ``vm`` is already visible to the requesting user."""
    user = context["request"].user
    return {"vm": vm, "section": vm_policy_section(user=user, vm=vm), "request": context["request"]}


@register.filter
def evidence(value: dict[str, Any] | None) -> list[EvidenceItem]:
    """A violation's evidence JSON as labelled items (``policy.evidence``)."""
    return evidence_items(value)
