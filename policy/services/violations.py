"""Recording findings as violations: open, refresh, resolve (level-triggered), and tell the
people concerned about guests with new violations (``policy.services.notices``).

Invariants: at most one open violation per (policy, vm or cluster, rule_key) (a
constraint); a finding seen again only moves ``last_seen`` (and evidence if it changed);
an open violation whose finding is gone from an evaluation that covered it is resolved
once, and its pending remediations are cancelled. Opening and resolving are audited
(one event each, or one summary event when more than ``AUDIT_DETAIL_LIMIT`` at once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import transaction

from governance.audit.services import audit_record
from policy.findings import Finding
from policy.models import (
    Remediation,
    RemediationRunState,
    RemediationState,
    Violation,
)
from policy.services.notices import violations_notify

AUDIT_DETAIL_LIMIT = 50

Identity = tuple[int, int, int | None, str]


@dataclass
class RecordResult:
    """What ``violations_record`` changed; ``open`` maps every finding's identity to the id
    of its (new or existing) open violation."""

    opened: list[Violation] = field(default_factory=list)
    resolved_ids: list[int] = field(default_factory=list)
    refreshed: int = 0
    notified: int = 0
    open: dict[Identity, int] = field(default_factory=dict)


class _Open(NamedTuple):
    pk: int
    summary: str
    evidence: dict
    state: str


def _identity(violation: Violation) -> Identity:
    return (violation.policy_id, violation.cluster_id, violation.vm_id, violation.rule_key)


def _initial_state(finding: Finding) -> str:
    if finding.exempt:
        return RemediationState.WAIVED
    if finding.mode == "enforce" and not finding.remedies:
        return RemediationState.NOT_POSSIBLE
    return RemediationState.NONE


def violations_record(
    *,
    findings: Sequence[Finding],
    policy_ids: Iterable[int],
    now: datetime,
    cluster_id: int | None = None,
) -> RecordResult:
    """Make the open violations of ``policy_ids`` (on ``cluster_id``, or everywhere) match
    ``findings``; runs in (or opens) one transaction.

    Callers serialise concurrent runs over the same clusters (``reconcile`` locks the
    cluster rows): the open rows are read without row locks, which at 100,000 open
    violations would cost more than the rest of the cycle.
    """
    result = RecordResult()
    with transaction.atomic():
        current = Violation.objects.filter(resolved_at__isnull=True, policy_id__in=list(policy_ids))
        if cluster_id is not None:
            current = current.filter(cluster_id=cluster_id)
        existing = {
            (policy, cluster, vm, key): _Open(pk, summary, evidence, state)
            for pk, policy, cluster, vm, key, summary, evidence, state in current.values_list(
                "pk",
                "policy_id",
                "cluster_id",
                "vm_id",
                "rule_key",
                "summary",
                "evidence",
                "remediation_state",
            )
        }
        new: list[Violation] = []
        for finding in findings:
            identity = finding.identity
            if identity in result.open:
                continue
            known = existing.pop(identity, None)
            if known is None:
                violation = Violation(
                    policy_id=finding.policy_id,
                    cluster_id=finding.cluster_id,
                    vm_id=finding.vm_id,
                    rule_key=finding.rule_key,
                    summary=finding.summary[:300],
                    evidence=dict(finding.evidence),
                    first_detected=now,
                    last_seen=now,
                    remediation_state=_initial_state(finding),
                )
                new.append(violation)
                result.open[identity] = violation
            else:
                _refresh(known, finding, now)
                result.open[identity] = known.pk
                result.refreshed += 1
        gone = list(existing.values())
        result.resolved_ids = [v.pk for v in gone]
        # Every open row still found is seen now: one UPDATE, not one per row.
        current.exclude(pk__in=result.resolved_ids).update(last_seen=now)
        result.opened = Violation.objects.bulk_create(new)
        for violation in result.opened:
            result.open[_identity(violation)] = violation.pk
        resolved = list(Violation.objects.filter(pk__in=result.resolved_ids))
        violations_resolve(violation_ids=result.resolved_ids, now=now)
        _audit("opened", result.opened)
        _audit("resolved", resolved)
        result.notified = violations_notify(opened=result.opened, now=now)
    return result


def _refresh(known: _Open, finding: Finding, now: datetime) -> None:
    """Keep the newest evidence and the waived state in step with the finding."""
    changes: dict[str, object] = {}
    if dict(finding.evidence) != known.evidence:
        changes["evidence"] = dict(finding.evidence)
    if finding.summary[:300] != known.summary:
        changes["summary"] = finding.summary[:300]
    state = known.state
    if finding.exempt and state in (RemediationState.NONE, RemediationState.NOT_POSSIBLE):
        changes["remediation_state"] = RemediationState.WAIVED
    elif not finding.exempt and state == RemediationState.WAIVED:
        changes["remediation_state"] = _initial_state(finding)
    if changes:
        Violation.objects.filter(pk=known.pk).update(**changes, last_seen=now)


def violations_resolve(*, violation_ids: Sequence[int], now: datetime) -> None:
    """Resolve open violations and cancel their remediations not started yet."""
    if not violation_ids:
        return
    Violation.objects.filter(pk__in=violation_ids, resolved_at__isnull=True).update(resolved_at=now)
    Remediation.objects.filter(
        violation_id__in=violation_ids, state=RemediationRunState.PENDING
    ).update(state=RemediationRunState.CANCELLED, finished_at=now)


def _audit(what: str, violations: list[Violation]) -> None:
    if not violations:
        return
    if len(violations) > AUDIT_DETAIL_LIMIT:
        by_policy: dict[int, int] = defaultdict(int)
        for violation in violations:
            by_policy[violation.policy_id] += 1
        audit_record(
            actor=None,
            action=f"policy.violations_{what}",
            after={"count": len(violations), "by_policy": dict(by_policy)},
        )
        return
    for violation in violations:
        audit_record(
            actor=None,
            action=f"policy.violation_{what}",
            target=violation,
            after={
                "policy": violation.policy_id,
                "vm": violation.vm_id,
                "cluster": violation.cluster_id,
                "rule_key": violation.rule_key,
                "summary": violation.summary,
            },
        )
