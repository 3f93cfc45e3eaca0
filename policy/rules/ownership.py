"""Ownership required and lease expired: every guest has an owner, and a guest whose lease
ended is stopped or quarantined once ``grace_days`` have passed.

Findings: ``unowned`` and ``lease``. During the grace period they are reported only;
after it, ``action`` (``stop``, ``quarantine`` or ``none``) is their remedy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind, QuarantineCause
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, day, iso, vm_finding

_ACTIONS = ("none", "stop", "quarantine")

OWNERSHIP_PARAMS = {
    "grace_days": Param(int, 7, "Days an unowned guest is tolerated after it is first seen."),
    "action": Param(_ACTIONS, "none", "What enforce mode does after the grace period."),
}
LEASE_PARAMS = {
    "grace_days": Param(int, 7, "Days after the lease end before the action is taken."),
    "action": Param(_ACTIONS, "stop", "What enforce mode does after the grace period."),
}


def _grace(since: datetime, params: Params, now: datetime) -> dict[str, object]:
    until = since + timedelta(days=params["grace_days"])
    return {"grace_until": iso(until), "grace_over": now >= until}


def evaluate_owner(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    if vm.owner_id is not None:
        return NONE
    return [
        vm_finding(
            ctx,
            vm,
            "unowned",
            f"{vm.name or vm.vmid} has no owner",
            first_seen=iso(vm.first_seen),
            **_grace(vm.first_seen, params, ctx.now),
        )
    ]


def evaluate_lease(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    lease_end = vm.lease_end
    if lease_end is None or lease_end >= ctx.now.date():
        return NONE
    # The lease covers its last day: it is over from the next midnight (UTC).
    ended = datetime.combine(lease_end + timedelta(days=1), datetime.min.time(), ctx.now.tzinfo)
    return [
        vm_finding(
            ctx,
            vm,
            "lease",
            f"The lease of {vm.name or vm.vmid} ended on {day(lease_end)}",
            lease_end=iso(lease_end),
            running=vm.status == "running",
            **_grace(ended, params, ctx.now),
        )
    ]


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    if not finding.evidence.get("grace_over") or params["action"] == "none":
        return ()
    if params["action"] == "stop":
        if finding.rule_key == "lease" and not finding.evidence.get("running"):
            return ()
        return (action(finding, ActionKind.STOP, "Stop the guest", reason=finding.summary),)
    cause = QuarantineCause.LEASE_EXPIRED if finding.rule_key == "lease" else QuarantineCause.MANUAL
    return (
        action(
            finding,
            ActionKind.QUARANTINE_APPLY,
            "Quarantine the guest",
            cause=cause.value,
            reason=finding.summary,
        ),
    )


def unowned(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    return [vm for vm in vms if vm.owner_id is None]


def leased(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    return [vm for vm in vms if vm.lease_end is not None]


OWNERSHIP_RULE = Rule(
    "ownership_required", OWNERSHIP_PARAMS, evaluate_owner, remedies, candidates=unowned
)
LEASE_RULE = Rule("lease_expired", LEASE_PARAMS, evaluate_lease, remedies, candidates=leased)
