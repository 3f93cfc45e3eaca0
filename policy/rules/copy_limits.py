"""Copy limits for sensitive guests: at most ``max_clones`` live clones, at most
``max_backups`` backups kept, and no templates made from them.

Findings: ``clones`` and ``template`` (reported: Proxmox cannot undo a clone), and
``backups`` (remedy: delete the oldest backups beyond the limit, one per action).
"""

from __future__ import annotations

from policy.facts import VmFacts
from policy.findings import Action, Finding
from policy.models import ActionKind
from policy.rules.base import NONE, Param, Params, Rule, RuleContext, action, vm_finding

PARAMS = {
    "max_clones": Param(int, None, "Most live clones made from the guest (empty: no limit)."),
    "max_backups": Param(int, None, "Most backups kept (empty: no limit)."),
    "no_templates": Param(bool, True, "No template may be made from the guest."),
}


def evaluate(vm: VmFacts, params: Params, ctx: RuleContext) -> list[Finding]:
    found: list[Finding] = []
    max_clones, max_backups = params["max_clones"], params["max_backups"]
    if max_clones is not None and vm.clones > max_clones:
        found.append(
            vm_finding(
                ctx,
                vm,
                "clones",
                f"{vm.clones} live clones of {vm.name or vm.vmid}; at most {max_clones} allowed",
                clones=vm.clones,
                limit=max_clones,
            )
        )
    if max_backups is not None:
        backups = sorted((c for c in vm.copies if c.kind == "backup"), key=lambda c: c.created_at)
        if len(backups) > max_backups:
            extra = backups[: len(backups) - max_backups]
            found.append(
                vm_finding(
                    ctx,
                    vm,
                    "backups",
                    f"{len(backups)} backups kept; at most {max_backups} allowed",
                    backups=len(backups),
                    limit=max_backups,
                    oldest=[{"volid": c.name, "storage": c.storage, "node": c.node} for c in extra],
                )
            )
    if params["no_templates"] and (vm.template or vm.templates):
        what = "is a template" if vm.template else f"has {vm.templates} template(s) made from it"
        found.append(
            vm_finding(
                ctx,
                vm,
                "template",
                f"{vm.name or vm.vmid} {what}",
                template=vm.template,
                templates=vm.templates,
            )
        )
    return found or NONE


def remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    if finding.rule_key != "backups":
        return ()
    return tuple(
        action(
            finding,
            ActionKind.BACKUP_DELETE,
            f"Delete backup {old['volid']} (over the limit of {finding.evidence['limit']})",
            volid=old["volid"],
            storage=old["storage"],
            node=old["node"],
        )
        for old in finding.evidence["oldest"]
    )


def candidates(vms: list[VmFacts], params: Params, ctx: RuleContext) -> list[VmFacts]:
    # Backups are among the copies, so fewer copies than the limit means nothing to find.
    max_clones, max_backups = params["max_clones"], params["max_backups"]
    clones = -1 if max_clones is None else max_clones
    copies = -1 if max_backups is None else max_backups
    templates = params["no_templates"]
    return [
        vm
        for vm in vms
        if (clones >= 0 and vm.clones > clones)
        or (copies >= 0 and len(vm.copies) > copies)
        or (templates and (vm.template or vm.templates))
    ]


RULE = Rule(
    "copy_limits",
    PARAMS,
    evaluate,
    remedies,
    candidates=candidates,
    facets=frozenset(("copies", "lineage")),
)
