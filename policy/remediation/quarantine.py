"""The Proxmox side of quarantine: a cluster security group that lets a guest reach only
the named patch and DNS hosts, applied by enabling the guest's firewall with that group
as its first rule, verified by reading everything back, and lifted by removing the rule.

The group ends in ``DROP`` for both directions, so the guest's own rules and default
policies below it never matter while it is applied; PVE's firewall is stateful, so
answers to allowed connections still come back. Every NIC gets ``firewall=1``, without
which PVE does not filter that interface at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings

from inventory.proxmox.operations import FirewallRule
from policy.models import ActionKind
from policy.remediation.base import Context, Outcome, executor

GROUP_COMMENT = "Steward quarantine: patch and DNS hosts only"
_NIC_KEY = re.compile(r"^net\d+$")


def quarantine_group() -> str:
    return str(settings.STEWARD_QUARANTINE_GROUP)


def group_rules(
    *, patch_hosts: Sequence[str], dns_hosts: Sequence[str]
) -> tuple[FirewallRule, ...]:
    """The group's rules, top (evaluated first) to bottom."""
    rules: list[FirewallRule] = []
    for host in dns_hosts:
        for proto in ("udp", "tcp"):
            rules.append(
                FirewallRule(type="out", action="ACCEPT", dest=host, proto=proto, dport="53")
            )
    for host in patch_hosts:
        rules.append(
            FirewallRule(type="out", action="ACCEPT", dest=host, proto="tcp", dport="80,443")
        )
    rules.append(FirewallRule(type="out", action="DROP", comment="quarantine"))
    rules.append(FirewallRule(type="in", action="DROP", comment="quarantine"))
    return tuple(rules)


def _wanted_rules() -> tuple[FirewallRule, ...]:
    return group_rules(
        patch_hosts=settings.STEWARD_QUARANTINE_PATCH_HOSTS,
        dns_hosts=settings.STEWARD_QUARANTINE_DNS_HOSTS,
    )


def _same_rules(have: Sequence[FirewallRule], want: Sequence[FirewallRule]) -> bool:
    return len(have) == len(want) and all(h.same_rule(w) for h, w in zip(have, want, strict=True))


def _ensure_group(ctx: Context) -> list[str]:
    """Create or rewrite the cluster's quarantine group to exactly the wanted rules."""
    gw, name, want = ctx.gateway, quarantine_group(), _wanted_rules()
    log: list[str] = []
    groups = gw.security_groups()
    if name not in {g.group for g in groups}:
        digest = groups[0].digest if groups else ""
        gw.security_group_create(group=name, comment=GROUP_COMMENT, digest=digest)
        log.append(f"created security group {name}")
    have = gw.security_group_rules(group=name)
    if _same_rules(have, want):
        return log
    # Rewrite from the bottom up so each delete keeps the positions above it valid.
    for rule in sorted(have, key=lambda r: r.pos, reverse=True):
        digest = gw.security_group_rules(group=name)[0].digest
        gw.security_group_rule_delete(group=name, pos=rule.pos, digest=digest)
    for pos, rule in enumerate(want):
        gw.security_group_rule_add(group=name, rule=rule, pos=pos)
    log.append(f"set the {len(want)} rules of {name}")
    return log


def _group_rule() -> FirewallRule:
    return FirewallRule(type="group", action=quarantine_group(), comment="Steward quarantine")


def _nic_with_firewall(value: str) -> str:
    parts = [p for p in value.split(",") if not p.startswith("firewall=")]
    return ",".join([*parts, "firewall=1"])


@executor(ActionKind.QUARANTINE_APPLY, verify=lambda ctx: quarantine_verify(ctx))
def quarantine_apply(ctx: Context) -> Outcome:
    gw, guest = ctx.gateway, ctx.target.guest()
    log = _ensure_group(ctx)
    config = gw.guest_config(**guest)
    nics = {
        k: _nic_with_firewall(v)
        for k, v in config.values.items()
        if _NIC_KEY.match(k) and "firewall=1" not in v.split(",")
    }
    if nics:
        gw.guest_config_update(**guest, digest=config.digest, values=nics)
        log.append(f"firewall on for {', '.join(sorted(nics))}")
    rules = gw.guest_firewall_rules(**guest)
    wanted = _group_rule()
    if not (rules and rules[0].same_rule(wanted)):
        digest = rules[0].digest if rules else gw.guest_firewall_options(**guest).digest
        gw.guest_firewall_rule_add(**guest, rule=wanted, digest=digest, pos=0)
        log.append(f"group {wanted.action} is the first rule")
    options = gw.guest_firewall_options(**guest)
    was_enabled = options.enabled
    if not options.enabled:
        gw.guest_firewall_options_update(**guest, digest=options.digest, values={"enable": 1})
        log.append("guest firewall enabled")
    verified = quarantine_verify(ctx)
    message = "; ".join([*log, verified.message]) or verified.message
    if verified.kind != "done":
        return Outcome.failed(message)
    return Outcome.done(message, firewall_was_enabled=was_enabled)


def quarantine_verify(ctx: Context) -> Outcome:
    """Read back group, NICs, rule order and options; ``done`` only when all hold."""
    gw, guest = ctx.gateway, ctx.target.guest()
    problems = []
    if not _same_rules(gw.security_group_rules(group=quarantine_group()), _wanted_rules()):
        problems.append("the quarantine group's rules differ")
    rules = gw.guest_firewall_rules(**guest)
    if not (rules and rules[0].same_rule(_group_rule())):
        problems.append("the quarantine group is not the guest's first rule")
    if not gw.guest_firewall_options(**guest).enabled:
        problems.append("the guest firewall is off")
    config = gw.guest_config(**guest).values
    bare = sorted(k for k, v in config.items() if _NIC_KEY.match(k) and "firewall=1" not in v)
    if bare:
        problems.append(f"no firewall on {', '.join(bare)}")
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.done("verified: only patch and DNS hosts are reachable")


@executor(ActionKind.QUARANTINE_LIFT)
def quarantine_lift(ctx: Context) -> Outcome:
    """Remove the group rule; switch the guest firewall back off if Steward turned it on
    (``firewall_was_enabled`` kept by the apply). NIC ``firewall=1`` flags stay: they
    filter nothing without rules and the guest's own firewall may rely on them."""
    gw, guest = ctx.gateway, ctx.target.guest()
    log = []
    wanted = _group_rule()
    while True:
        rules = gw.guest_firewall_rules(**guest)
        rule = next((r for r in rules if r.same_rule(wanted)), None)
        if rule is None:
            break
        gw.guest_firewall_rule_delete(**guest, pos=rule.pos, digest=rule.digest)
        log.append(f"removed the {wanted.action} rule")
    if ctx.params.get("firewall_was_enabled") is False:
        options = gw.guest_firewall_options(**guest)
        if options.enabled:
            gw.guest_firewall_options_update(**guest, digest=options.digest, values={"enable": 0})
            log.append("guest firewall back off")
    return Outcome.done("; ".join(log) or "no quarantine rule was in place")
