"""Saving a chain from the admins' editor: the chain and its steps in one audited transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms import BaseInlineFormSet, ModelForm

from governance.approvals.models import ApprovalChain
from governance.audit.services import audit_record


def _describe(chain: ApprovalChain) -> dict[str, Any]:
    return {
        "name": chain.name,
        "kind": chain.kind,
        "enabled": chain.enabled,
        "priority": chain.priority,
        "classification": chain.classification,
        "cluster": chain.cluster.name if chain.cluster else None,
        "cross_cluster": chain.cross_cluster,
        "auto_approve": chain.auto_approve,
        "steps": [
            {"name": s.name, "rule": s.approver_rule, "mode": s.mode, "required": s.required}
            for s in chain.steps.order_by("position")
        ],
    }


@transaction.atomic
def chain_save(*, actor: Any, form: ModelForm, steps: BaseInlineFormSet) -> ApprovalChain:
    """Save a valid chain form and its valid step formset; positions follow the form order.

    Open requests are unaffected: they copied their steps when they were submitted.
    """
    before = _describe(form.instance) if form.instance.pk else None
    chain = form.save(commit=False)
    if chain.pk is None:
        chain.created_by = actor
    chain.save()
    steps.instance = chain
    kept = steps.save(commit=False)
    for obj in steps.deleted_objects:
        obj.delete()
    ordered = sorted(
        [s for s in chain.steps.all() if s not in steps.deleted_objects and s not in kept] + kept,
        key=lambda step: step.position if step.pk else 10_000,
    )
    # Renumber through a temporary offset: (chain, position) is unique at every moment.
    for index, step in enumerate(ordered):
        if step.pk:
            type(step).objects.filter(pk=step.pk).update(position=1000 + index)
    for index, step in enumerate(ordered):
        step.chain = chain
        step.position = index
        step.save()
    audit_record(
        actor=actor,
        action="approvals.chain_saved",
        target=chain,
        before=before,
        after=_describe(chain),
    )
    return chain
