"""Data lifetime: snapshots younger than ``max_snapshot_age_days``, no snapshots with RAM
state (``no_vmstate_snapshots``), backups younger than ``max_backup_age_days``.

Findings: ``snapshot:<name>`` (remedy: delete the snapshot) and ``backup:<volid>``
(remedy: delete the backup volume).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, iso, vm_finding

PARAMS = {
    "max_snapshot_age_days": Param(int, None, "Oldest a snapshot may be (empty: no limit)."),
    "no_vmstate_snapshots": Param(bool, False, "Refuse snapshots that include RAM state."),
    "max_backup_age_days": Param(int, None, "Oldest a backup may be (empty: no limit)."),
}


# A limit not set: no copy is older than this.
_NO_LIMIT = datetime.min.replace(tzinfo=UTC)


def _cutoffs(params: Params, now: datetime) -> tuple[datetime, datetime]:
    """Creation times before which a snapshot / a backup is too old: ``age > N days`` is
    ``created_at < now - N days`` exactly (integer microseconds)."""
    snap_days, backup_days = params["max_snapshot_age_days"], params["max_backup_age_days"]
    return (
        _NO_LIMIT if snap_days is None else now - timedelta(days=snap_days),
        _NO_LIMIT if backup_days is None else now - timedelta(days=backup_days),
    )


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    if not vm.copies:
        return NONE
    snap_days, backup_days = params["max_snapshot_age_days"], params["max_backup_age_days"]
    snap_cut, backup_cut = _cutoffs(params, ctx.now)
    no_vmstate = params["no_vmstate_snapshots"]
    found: list[Finding] = []
    for copy in vm.copies:
        if copy.kind == "snapshot":
            reasons = []
            if copy.created_at < snap_cut:
                reasons.append(f"older than {snap_days} days")
            if no_vmstate and copy.vmstate:
                reasons.append("includes RAM state")
            if reasons:
                found.append(
                    vm_finding(
                        ctx,
                        vm,
                        f"snapshot:{copy.name}",
                        f"Snapshot {copy.name} {' and '.join(reasons)}",
                        snapshot=copy.name,
                        created_at=iso(copy.created_at),
                        vmstate=copy.vmstate,
                        reasons=reasons,
                    )
                )
        elif copy.kind == "backup" and copy.created_at < backup_cut:
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    f"backup:{copy.name}",
                    f"Backup {copy.name} is older than {backup_days} days",
                    volid=copy.name,
                    storage=copy.storage,
                    copy_node=copy.node,
                    created_at=iso(copy.created_at),
                )
            )
    return found or NONE


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    evidence = finding.evidence
    if finding.rule_key.startswith("snapshot:"):
        return (
            action(
                finding,
                ActionKind.SNAPSHOT_DELETE,
                f"Delete snapshot {evidence['snapshot']}",
                snapshot=evidence["snapshot"],
            ),
        )
    return (
        action(
            finding,
            ActionKind.BACKUP_DELETE,
            f"Delete backup {evidence['volid']}",
            volid=evidence["volid"],
            storage=evidence["storage"],
            node=evidence["copy_node"],
        ),
    )


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    snap_cut, backup_cut = _cutoffs(params, ctx.now)
    no_vmstate = params["no_vmstate_snapshots"]
    return [
        vm
        for vm in vms
        if vm.copies
        and any(
            (c.kind == "snapshot" and (c.created_at < snap_cut or (no_vmstate and c.vmstate)))
            or (c.kind == "backup" and c.created_at < backup_cut)
            for c in vm.copies
        )
    ]


RULE = Rule(
    "data_lifetime",
    PARAMS,
    evaluate,
    remedies,
    candidates=candidates,
    facets=frozenset(("copies",)),
)
