"""Rollback awareness: a rollback (a rollback task or a new ``vmgenid``) leaves the guest
owing a re-patch and re-key until its owner confirms; QEMU guests must have a
``vmgenid`` and a virtio-rng device (randomness from the VMM).

Findings: ``rollback`` (remedy: quarantine when ``quarantine`` is set, otherwise
reported), ``vmgenid`` (remedy: ``vmgenid: 1``, PVE generates one), ``rng``
(remedy: ``rng0: source=/dev/urandom``).
"""

from __future__ import annotations

from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind, QuarantineCause
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, iso, vm_finding

PARAMS = {
    "quarantine": Param(bool, False, "Quarantine a rolled-back guest until confirmed patched."),
    "require_vmgenid": Param(bool, True, "QEMU guests must have a vmgenid."),
    "require_rng": Param(bool, True, "QEMU guests must have a virtio-rng device."),
}

RNG_VALUE = "source=/dev/urandom"


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    found: list[Finding] = []
    if vm.rollbacks:
        last = max(vm.rollbacks, key=lambda r: r.detected_at)
        how = f"to snapshot {last.snapshot_name}" if last.snapshot_name else f"({last.source})"
        found.append(
            vm_finding(
                ctx,
                vm,
                "rollback",
                f"Rolled back {how} on {last.detected_at:%Y-%m-%d %H:%M}: re-patch and "
                "re-key, then confirm",
                snapshot=last.snapshot_name,
                source=last.source,
                detected_at=iso(last.detected_at),
                task_upid=last.task_upid,
                rollbacks=len(vm.rollbacks),
            )
        )
    if vm.kind == "qemu" and not vm.template:
        if params["require_vmgenid"] and not vm.vmgenid:
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    "vmgenid",
                    "No vmgenid: rollbacks cannot be detected by the guest",
                    digest=vm.config_digest,
                )
            )
        if params["require_rng"] and not vm.has_rng:
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    "rng",
                    "No virtio-rng device: the guest lacks VMM randomness",
                    digest=vm.config_digest,
                )
            )
    return found or NONE


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    key = finding.rule_key
    if key == "rollback":
        if not params["quarantine"]:
            return ()
        return (
            action(
                finding,
                ActionKind.QUARANTINE_APPLY,
                "Quarantine until the owner confirms re-patch and re-key",
                cause=QuarantineCause.ROLLBACK.value,
                reason=finding.summary,
            ),
        )
    value = "1" if key == "vmgenid" else RNG_VALUE
    config_key = "vmgenid" if key == "vmgenid" else "rng0"
    return (
        action(
            finding,
            ActionKind.SET_CONFIG,
            f"Set {config_key}: {value}",
            key=config_key,
            value=value,
            digest=finding.evidence["digest"],
        ),
    )


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    return [
        vm
        for vm in vms
        if vm.rollbacks
        or (vm.kind == "qemu" and not vm.template and (not vm.vmgenid or not vm.has_rng))
    ]


RULE = Rule(
    "rollback_awareness",
    PARAMS,
    evaluate,
    remedies,
    candidates=candidates,
    facets=frozenset(("rollbacks",)),
)
