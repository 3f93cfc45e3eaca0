"""The reconciler: evaluate -> record violations -> plan remediations, level-triggered.

``reconcile`` compares what policies want with what the last sync observed, records
violations, and for enforce-mode findings plans at most one remediation per guest at a
time (a ``pending`` ``Remediation`` row per planned action, created and audited before
anything is queued; ``policy.signals.remediations_planned`` tells the executors after
commit). It never talks to Proxmox itself, so a cycle with nothing to fix writes nothing
there. Running it again changes nothing more: an open violation is refreshed, a guest
with an active remediation waits, an action that failed or was not possible is not
retried before ``RETRY_AFTER``. ``dry_run`` computes the same plan and writes nothing.

A passthrough device whose removal Proxmox already holds pending (a running guest that
cannot hot-unplug it) is not written again: its violation shows ``removal_pending`` until
the guest's next cold start (``policy.remediation.pending``).

Quarantines follow the findings: a guest whose enforced findings ask for one and that has
none gets ``quarantine_apply``; a guest with an open quarantine (not manual) that no
enforced finding asks for any more gets ``quarantine_lift``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.audit.services import audit_record
from inventory.models import Cluster
from policy.evaluation import evaluate_fleet
from policy.facts import FleetFacts, exemptions_load, facts_load
from policy.findings import Action, Finding
from policy.models import (
    ACTIVE_REMEDIATION_STATES,
    ActionKind,
    Policy,
    QuarantineCause,
    Remediation,
    RemediationRunState,
    RemediationState,
    Violation,
)
from policy.remediation.pending import removals_pending, removals_pending_record
from policy.rules import PolicySpec, facets_for
from policy.services.violations import RecordResult, violations_record, violations_resolve
from policy.signals import remediations_planned_send

RETRY_AFTER = timedelta(hours=6)
AUDIT_DETAIL_LIMIT = 50


@dataclass(frozen=True)
class PlannedAction:
    """One remediation the reconciler runs (or, in a dry run, would run)."""

    action: Action
    finding: Finding | None = None
    quarantine_id: int | None = None


@dataclass
class ReconcileResult:
    findings: list[Finding]
    planned: list[PlannedAction]
    dry_run: bool
    record: RecordResult | None = None
    remediation_ids: list[int] = field(default_factory=list)
    guests: int = 0


class UnknownPolicyError(ValueError):
    """``reconcile(policy=...)`` names no enabled policy."""


def reconcile(
    *,
    cluster_id: int | None = None,
    policy: str | None = None,
    dry_run: bool = False,
    trigger: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> ReconcileResult:
    """One reconcile cycle over one cluster (or all) and one policy (or every enabled one)."""
    now = now or timezone.now()
    policies = Policy.objects.filter(enabled=True)
    if policy is not None:
        policies = policies.filter(name=policy)
        if not policies.exists():
            raise UnknownPolicyError(f'No enabled policy is named "{policy}".')
    specs = [PolicySpec.of(p) for p in policies]
    if not specs:
        if not dry_run and policy is None:
            _resolve_disabled(cluster_id=cluster_id, now=now)
        return ReconcileResult(findings=[], planned=[], dry_run=dry_run)
    facts = facts_load(cluster_id=cluster_id, now=now, facets=facets_for(specs))
    findings = evaluate_fleet(specs, facts, exemptions_load(now=now), now)
    pending = removals_pending(findings)
    if dry_run:
        busy, held = _busy(cluster_id), _held(cluster_id, now)
        open_ids = {
            (v.policy_id, v.cluster_id, v.vm_id, v.rule_key): v.pk
            for v in Violation.objects.filter(resolved_at__isnull=True)
        }
        planned = plan(findings, facts, busy=busy, held=held, violation_ids=open_ids)
        return ReconcileResult(findings, planned, True, guests=len(facts.vms))
    with transaction.atomic():
        # One reconcile per cluster at a time: the second waits here for the first.
        locked = Cluster.objects.select_for_update().order_by("pk")
        list(locked.filter(pk=cluster_id) if cluster_id is not None else locked)
        record = violations_record(
            findings=findings, policy_ids=[s.id for s in specs], now=now, cluster_id=cluster_id
        )
        if policy is None:
            _resolve_disabled(cluster_id=cluster_id, now=now)
        violation_ids = record.open
        removals_pending_record(pending, violation_ids)
        planned = plan(
            findings,
            facts,
            busy=_busy(cluster_id),
            held=_held(cluster_id, now),
            violation_ids=violation_ids,
        )
        remediations = _create(planned, violation_ids=violation_ids, actor=actor, now=now)
        _audit(remediations, trigger=trigger, actor=actor, record=record)
        ids = [r.pk for r in remediations]
        transaction.on_commit(lambda: remediations_planned_send(remediation_ids=ids))
    return ReconcileResult(findings, planned, False, record, ids, guests=len(facts.vms))


def plan(
    findings: Sequence[Finding],
    facts: FleetFacts,
    *,
    busy: set[int],
    held: set[tuple[int, str]],
    violation_ids: dict[tuple, int],
) -> list[PlannedAction]:
    """Pure: the remediations to start now, at most one per guest.

    ``busy`` are guests with an active remediation; ``held`` are (violation id, action
    kind) pairs that failed or were not possible within ``RETRY_AFTER``. Findings are
    taken in a stable order (policy name, rule key) so a guest's turn is predictable.
    """
    planned: list[PlannedAction] = []
    taken: set[int] = set(busy)
    wants_quarantine: set[int] = set()
    for finding in sorted(findings, key=lambda f: (f.policy_name, f.rule_key, f.vm_id or 0)):
        if not finding.enforced:
            continue
        first = finding.remedies[0]
        vm_id = finding.vm_id
        if first.kind == ActionKind.QUARANTINE_APPLY and vm_id is not None:
            wants_quarantine.add(vm_id)
            if vm_id in facts.quarantines:
                continue  # already fenced; the quarantine checks verify it
        violation_id = violation_ids.get(finding.identity)
        if violation_id is not None and (violation_id, first.kind) in held:
            continue
        if vm_id is not None:
            if vm_id in taken:
                continue
            taken.add(vm_id)
        planned.append(PlannedAction(first, finding))
    by_id = {vm.id: vm for vm in facts.vms}
    for vm_id, (quarantine_id, cause) in facts.quarantines.items():
        if cause == QuarantineCause.MANUAL or vm_id in wants_quarantine or vm_id in taken:
            continue
        vm = by_id.get(vm_id)
        if vm is None:
            continue
        taken.add(vm_id)
        lift = Action(
            ActionKind.QUARANTINE_LIFT,
            vm.cluster_id,
            vm.id,
            vm.vmid,
            vm.node,
            {"quarantine_id": quarantine_id},
            "Lift the quarantine: its cause is resolved",
        )
        planned.append(PlannedAction(lift, None, quarantine_id))
    return planned


def _busy(cluster_id: int | None) -> set[int]:
    active = Remediation.objects.filter(
        state__in=ACTIVE_REMEDIATION_STATES, dry_run=False, vm__isnull=False
    )
    if cluster_id is not None:
        active = active.filter(cluster_id=cluster_id)
    return set(active.values_list("vm_id", flat=True))


def _held(cluster_id: int | None, now: datetime) -> set[tuple[int, str]]:
    stuck = Remediation.objects.filter(
        state__in=(RemediationRunState.FAILED, RemediationRunState.NOT_POSSIBLE),
        finished_at__gte=now - RETRY_AFTER,
        violation__isnull=False,
    )
    if cluster_id is not None:
        stuck = stuck.filter(cluster_id=cluster_id)
    return set(stuck.values_list("violation_id", "action"))


def _resolve_disabled(*, cluster_id: int | None, now: datetime) -> None:
    """Resolve the open violations of disabled policies: nobody evaluates them any more."""
    stale = Violation.objects.filter(resolved_at__isnull=True, policy__enabled=False)
    if cluster_id is not None:
        stale = stale.filter(cluster_id=cluster_id)
    violations_resolve(violation_ids=list(stale.values_list("pk", flat=True)), now=now)


def _create(
    planned: list[PlannedAction], *, violation_ids: dict[tuple, int], actor: Any, now: datetime
) -> list[Remediation]:
    rows = [
        Remediation(
            violation_id=violation_ids.get(p.finding.identity) if p.finding else None,
            quarantine_id=p.quarantine_id,
            cluster_id=p.action.cluster_id,
            vm_id=p.action.vm_id,
            action=p.action.kind,
            params=dict(p.action.params),
            description=p.action.description[:300],
            state=RemediationRunState.PENDING,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=now,
            next_attempt_at=now,
        )
        for p in planned
    ]
    created = Remediation.objects.bulk_create(rows)
    pending = [r.violation_id for r in created if r.violation_id is not None]
    Violation.objects.filter(pk__in=pending).update(remediation_state=RemediationState.PENDING)
    return created


def _audit(
    remediations: list[Remediation], *, trigger: str, actor: Any, record: RecordResult
) -> None:
    if not remediations and not record.opened and not record.resolved_ids:
        return  # an unchanged estate leaves no trace beyond last_seen
    actor = actor if getattr(actor, "is_authenticated", False) else None
    audit_record(
        actor=actor,
        action="policy.reconciled",
        after={
            "trigger": trigger,
            "opened": len(record.opened),
            "resolved": len(record.resolved_ids),
            "planned": len(remediations),
        },
    )
    if len(remediations) > AUDIT_DETAIL_LIMIT:
        return
    for remediation in remediations:
        audit_record(
            actor=actor,
            action="policy.remediation_planned",
            target=remediation,
            after={
                "action": remediation.action,
                "params": remediation.params,
                "vm": remediation.vm_id,
                "violation": remediation.violation_id,
            },
        )
