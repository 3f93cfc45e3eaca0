"""Firewall: cluster security groups and their rules, per-guest options and rules.

Rules are ordered lists; ``pos`` is the index. New rules go to the top unless ``pos`` is
given (as in PVE). Every list and object carries the digest of its ``.fw`` file and writes
refuse a stale digest.
"""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import config_value, resolve_guest, vm_path
from pvesim.api.router import route
from pvesim.model import GuestFirewall
from pvesim.model.clusterconf import SecurityGroup
from pvesim.model.config import config_digest, split_list

RULE_KEYS = (
    "type",
    "action",
    "macro",
    "iface",
    "source",
    "dest",
    "proto",
    "dport",
    "sport",
    "icmp-type",
    "log",
    "comment",
    "enable",
)
_STALE = "detected modified configuration - file changed by other user? Try again."


def _render_rules(rules: list[dict[str, Any]]) -> str:
    return "\n".join(" ".join(f"{k}={rule[k]}" for k in RULE_KEYS if k in rule) for rule in rules)


def _digest(text: str) -> str:
    return config_digest(text)


def groups_digest(groups: dict[str, SecurityGroup]) -> str:
    return _digest(
        "\n".join(
            f"[group {g.group}] {g.comment}\n{_render_rules(g.rules)}" for g in groups.values()
        )
    )


def guest_fw_digest(firewall: GuestFirewall) -> str:
    options = "\n".join(f"{k}: {v}" for k, v in sorted(firewall.options.items()))
    return _digest(f"[OPTIONS]\n{options}\n[RULES]\n{_render_rules(firewall.rules)}")


def _check_digest(ctx: Context, current: str) -> None:
    digest = ctx.params.get("digest")
    if digest and digest != current:
        raise ApiError(500, _STALE)


def _renumber(rules: list[dict[str, Any]]) -> None:
    for index, rule in enumerate(rules):
        rule["pos"] = index


def _rule_items(rules: list[dict[str, Any]], digest: str) -> list[dict[str, Any]]:
    return [dict(rule, digest=digest) for rule in rules]


def _rule_from_params(ctx: Context, rule: dict[str, Any], groups: dict[str, SecurityGroup]) -> None:
    for key in RULE_KEYS:
        if key in ctx.params:
            value = ctx.params[key]
            rule[key] = int(value) if key == "enable" else config_value(value)
    for key in split_list(ctx.params.get("delete", "")):
        rule.pop(key, None)
    if rule.get("type") == "group" and rule.get("action") not in groups:
        raise ApiError(500, f"security group '{rule.get('action')}' does not exist")


def _insert(ctx: Context, rules: list[dict[str, Any]], rule: dict[str, Any]) -> None:
    pos = ctx.params.get("pos")
    rules.insert(min(pos, len(rules)) if pos is not None else 0, rule)
    _renumber(rules)


def _rule_at(rules: list[dict[str, Any]], ctx: Context) -> dict[str, Any]:
    pos = ctx.params.get("pos")
    if pos is None or pos >= len(rules):
        raise ApiError(500, "no rule at position " + str(pos))
    return rules[pos]


def _update_rule(
    ctx: Context, rules: list[dict[str, Any]], groups: dict[str, SecurityGroup]
) -> None:
    rule = _rule_at(rules, ctx)
    moveto = ctx.params.get("moveto")
    if moveto is not None:
        rules.remove(rule)
        rules.insert(min(moveto, len(rules)), rule)
    else:
        _rule_from_params(ctx, rule, groups)
    _renumber(rules)


# ---- cluster security groups -------------------------------------------------------------


@route("GET", "/cluster/firewall/groups")
def fw_groups(ctx: Context) -> list[dict[str, Any]]:
    groups = ctx.cluster.estate.fw_groups
    digest = groups_digest(groups)
    return [{"group": g.group, "comment": g.comment, "digest": digest} for g in groups.values()]


@route("POST", "/cluster/firewall/groups")
def fw_group_create(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    groups = ctx.cluster.estate.fw_groups
    _check_digest(ctx, groups_digest(groups))
    name = ctx.params["group"]
    if "rename" in ctx.params:
        old = ctx.params["rename"]
        if old not in groups:
            raise ApiError(500, f"Security group '{old}' does not exist")
        group = groups.pop(old)
        group.group = name
        if "comment" in ctx.params:
            group.comment = ctx.params["comment"]
        groups[name] = group
        return None
    if name in groups:
        raise ApiError(500, f"Security group '{name}' already exists")
    groups[name] = SecurityGroup(name, ctx.params.get("comment", ""))
    return None


def _group(ctx: Context) -> SecurityGroup:
    group = ctx.cluster.estate.fw_groups.get(ctx.params["group"])
    if group is None:
        raise ApiError(500, f"no such security group '{ctx.params['group']}'")
    return group


@route("GET", "/cluster/firewall/groups/{group}")
def fw_group_rules(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    group = _group(ctx)
    return _rule_items(group.rules, groups_digest(ctx.cluster.estate.fw_groups))


@route("POST", "/cluster/firewall/groups/{group}")
def fw_group_rule_add(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    groups = ctx.cluster.estate.fw_groups
    group = _group(ctx)
    _check_digest(ctx, groups_digest(groups))
    rule: dict[str, Any] = {"enable": 1}
    _rule_from_params(ctx, rule, groups)
    _insert(ctx, group.rules, rule)
    return None


@route("DELETE", "/cluster/firewall/groups/{group}")
def fw_group_delete(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    group = _group(ctx)
    if group.rules:
        raise ApiError(500, "security group is not empty")
    del ctx.cluster.estate.fw_groups[group.group]
    return None


@route("GET", "/cluster/firewall/groups/{group}/{pos}")
def fw_group_rule(ctx: Context) -> dict[str, Any]:
    ctx.check("/", ["Sys.Audit"])
    return dict(_rule_at(_group(ctx).rules, ctx))


@route("PUT", "/cluster/firewall/groups/{group}/{pos}")
def fw_group_rule_update(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    groups = ctx.cluster.estate.fw_groups
    _check_digest(ctx, groups_digest(groups))
    _update_rule(ctx, _group(ctx).rules, groups)
    return None


@route("DELETE", "/cluster/firewall/groups/{group}/{pos}")
def fw_group_rule_delete(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    groups = ctx.cluster.estate.fw_groups
    _check_digest(ctx, groups_digest(groups))
    rules = _group(ctx).rules
    rules.remove(_rule_at(rules, ctx))
    _renumber(rules)
    return None


# ---- guest firewall ------------------------------------------------------------------------

_BOOL_OPTIONS = frozenset({"enable", "dhcp", "ipfilter", "macfilter", "ndp", "radv"})


def _guest_fw(ctx: Context, kind: str, privs: list[str]) -> GuestFirewall:
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), privs)
    if guest.firewall is None:
        guest.firewall = GuestFirewall()
    return guest.firewall


def _register(kind: str) -> None:
    base = f"/nodes/{{node}}/{kind}/{{vmid}}/firewall"

    @route("GET", base + "/options")
    def options_get(ctx: Context) -> dict[str, Any]:
        firewall = _guest_fw(ctx, kind, ["VM.Audit"])
        result: dict[str, Any] = {
            k: int(v) if k in _BOOL_OPTIONS else v for k, v in firewall.options.items()
        }
        result["digest"] = guest_fw_digest(firewall)
        return result

    @route("PUT", base + "/options")
    def options_put(ctx: Context) -> None:
        firewall = _guest_fw(ctx, kind, ["VM.Config.Network"])
        _check_digest(ctx, guest_fw_digest(firewall))
        for key in split_list(ctx.params.get("delete", "")):
            firewall.options.pop(key, None)
        for key, value in ctx.params.items():
            if key not in {"node", "vmid", "digest", "delete"}:
                firewall.options[key] = config_value(value)
        return None

    @route("GET", base + "/rules")
    def rules_get(ctx: Context) -> list[dict[str, Any]]:
        firewall = _guest_fw(ctx, kind, ["VM.Audit"])
        return _rule_items(firewall.rules, guest_fw_digest(firewall))

    @route("POST", base + "/rules")
    def rules_post(ctx: Context) -> None:
        firewall = _guest_fw(ctx, kind, ["VM.Config.Network"])
        _check_digest(ctx, guest_fw_digest(firewall))
        rule: dict[str, Any] = {"enable": 1}
        _rule_from_params(ctx, rule, ctx.cluster.estate.fw_groups)
        _insert(ctx, firewall.rules, rule)
        return None

    @route("GET", base + "/rules/{pos}")
    def rule_get(ctx: Context) -> dict[str, Any]:
        firewall = _guest_fw(ctx, kind, ["VM.Audit"])
        return dict(_rule_at(firewall.rules, ctx))

    @route("PUT", base + "/rules/{pos}")
    def rule_put(ctx: Context) -> None:
        firewall = _guest_fw(ctx, kind, ["VM.Config.Network"])
        _check_digest(ctx, guest_fw_digest(firewall))
        _update_rule(ctx, firewall.rules, ctx.cluster.estate.fw_groups)
        return None

    @route("DELETE", base + "/rules/{pos}")
    def rule_delete(ctx: Context) -> None:
        firewall = _guest_fw(ctx, kind, ["VM.Config.Network"])
        _check_digest(ctx, guest_fw_digest(firewall))
        firewall.rules.remove(_rule_at(firewall.rules, ctx))
        _renumber(firewall.rules)
        return None


_register("qemu")
_register("lxc")
