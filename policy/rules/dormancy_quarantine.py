"""Dormancy / patch debt: a guest off for more than ``days`` is quarantined when it next
starts, until its owner confirms it is patched.

The finding ``dormant`` opens while the guest is off past the limit (reported; nothing
to fence yet) and stays open after it starts, now with a quarantine as its remedy, until
a patch confirmation later than the start. Because a start overwrites ``last_running``,
the rule remembers through its own open violation (``ctx.fleet.open_keys``): a guest
that was started before any evaluation saw it dormant is not caught.
"""

from __future__ import annotations

from datetime import timedelta

from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind, QuarantineCause
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, day, iso, vm_finding

PARAMS = {
    "days": Param(int, 30, "Days off after which a guest owes a patch before it may run."),
}


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    if vm.template:
        return NONE
    days = params["days"]
    if vm.status != "running":
        quiet_since = vm.last_running or vm.first_seen
        if ctx.now - quiet_since <= timedelta(days=days):
            return NONE
        return [
            vm_finding(
                ctx,
                vm,
                "dormant",
                f"Off since {day(quiet_since)}, more than {days} days: it will be "
                "quarantined when it starts until its owner confirms it is patched",
                off_since=iso(quiet_since),
                running=False,
            )
        ]
    remembered = ctx.fleet.open_keys.get(ctx.policy.id, {}).get(vm.id, frozenset())
    if "dormant" not in remembered:
        return NONE
    started = vm.last_running
    if vm.patch_confirmed_at is not None and (started is None or vm.patch_confirmed_at >= started):
        return NONE
    return [
        vm_finding(
            ctx,
            vm,
            "dormant",
            f"Started after more than {days} days off and not yet confirmed patched",
            started_at=iso(started),
            running=True,
        )
    ]


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    if not finding.evidence.get("running"):
        return ()
    return (
        action(
            finding,
            ActionKind.QUARANTINE_APPLY,
            "Quarantine until the owner confirms the guest is patched",
            cause=QuarantineCause.DORMANCY.value,
            reason=finding.summary,
        ),
    )


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    remembered = ctx.fleet.open_keys.get(ctx.policy.id, {})
    # Off for longer than the limit <=> quiet since before the cutoff (exact arithmetic).
    cutoff = ctx.now - timedelta(days=params["days"])
    return [
        vm
        for vm in vms
        if (vm.status != "running" and (vm.last_running or vm.first_seen) < cutoff)
        or vm.id in remembered
    ]


RULE = Rule(
    "dormancy_quarantine",
    PARAMS,
    evaluate,
    remedies,
    candidates=candidates,
    # patch_confirmed_at comes with the rollbacks facet.
    facets=frozenset(("rollbacks", "remembered")),
)
