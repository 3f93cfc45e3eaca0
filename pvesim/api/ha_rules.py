"""HA groups (PVE 8) and HA rules (PVE 9).

In the PVE 9 profile groups are migrated to rules and every groups call fails with 500; in
the PVE 8 profile the rules API does not exist (501). Read needs Sys.Audit on ``/``, write
Sys.Console on ``/``.
"""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.ha import MIGRATED, sid_of
from pvesim.api.router import route
from pvesim.model import Estate
from pvesim.model.clusterconf import HAGroup, HARule, parse_node_priorities
from pvesim.model.config import split_list

# ---- groups (PVE 8) ----------------------------------------------------------------------


def _groups_allowed(ctx: Context, action: str) -> None:
    if ctx.cluster.profile.ha_rules:
        raise ApiError(500, f"cannot {action}: {MIGRATED}")


def _group_item(estate: Estate, group: HAGroup) -> dict[str, Any]:
    item: dict[str, Any] = {
        "group": group.group,
        "type": "group",
        "nodes": group.nodes,
        "restricted": group.restricted,
        "nofailback": group.nofailback,
        "digest": estate.ha_groups_digest(),
    }
    if group.comment:
        item["comment"] = group.comment
    return item


def _check_nodes(estate: Estate, text: str) -> None:
    for name in parse_node_priorities(text):
        if name not in estate.nodes:
            raise param_error({"nodes": f"no such cluster node '{name}'"})


@route("GET", "/cluster/ha/groups")
def ha_groups(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    _groups_allowed(ctx, "index groups")
    estate = ctx.cluster.estate
    return [_group_item(estate, g) for g in estate.ha_groups.values()]


def _group(ctx: Context) -> HAGroup:
    group = ctx.cluster.estate.ha_groups.get(ctx.params["group"])
    if group is None:
        raise ApiError(500, f"no such ha group '{ctx.params['group']}'")
    return group


@route("GET", "/cluster/ha/groups/{group}")
def ha_group(ctx: Context) -> dict[str, Any]:
    ctx.check("/", ["Sys.Audit"])
    _groups_allowed(ctx, "read group")
    return _group_item(ctx.cluster.estate, _group(ctx))


def _apply_group(ctx: Context, group: HAGroup) -> None:
    if "nodes" in ctx.params:
        _check_nodes(ctx.cluster.estate, ctx.params["nodes"])
        group.nodes = ctx.params["nodes"]
    for key in ("restricted", "nofailback"):
        if key in ctx.params:
            setattr(group, key, 1 if ctx.params[key] else 0)
    if "comment" in ctx.params:
        group.comment = ctx.params["comment"]


@route("POST", "/cluster/ha/groups")
def ha_group_create(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    _groups_allowed(ctx, "create group")
    estate = ctx.cluster.estate
    name = ctx.params["group"]
    if name in estate.ha_groups:
        raise ApiError(500, f"ha group '{name}' already defined")
    group = HAGroup(name, ctx.params["nodes"])
    _apply_group(ctx, group)
    estate.ha_groups[name] = group
    return None


@route("PUT", "/cluster/ha/groups/{group}")
def ha_group_update(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    _groups_allowed(ctx, "update group")
    group = _group(ctx)
    for key in split_list(ctx.params.get("delete", "")):
        if key == "comment":
            group.comment = None
        elif key in {"restricted", "nofailback"}:
            setattr(group, key, 0)
    _apply_group(ctx, group)
    return None


@route("DELETE", "/cluster/ha/groups/{group}")
def ha_group_delete(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    _groups_allowed(ctx, "delete group")
    group = _group(ctx)
    estate = ctx.cluster.estate
    users = [r.sid for r in estate.ha_resources.values() if r.group == group.group]
    if users:
        raise ApiError(500, f"ha group '{group.group}' is used by resource(s) {', '.join(users)}")
    del estate.ha_groups[group.group]
    return None


# ---- rules (PVE 9) -----------------------------------------------------------------------


def _rules_exist(ctx: Context) -> None:
    if not ctx.cluster.profile.ha_rules:
        raise ApiError(501, f"Method '{ctx.method} {ctx.path}' not implemented")


def _rule_item(estate: Estate, rule: HARule, order: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "rule": rule.rule,
        "type": rule.type,
        "resources": rule.resources,
        "digest": estate.ha_rules_digest(),
        "order": order,
    }
    if rule.type == "node-affinity":
        item["nodes"] = rule.nodes or ""
        item["strict"] = rule.strict
    else:
        item["affinity"] = rule.affinity or "positive"
    if rule.disable:
        item["disable"] = 1
    if rule.comment:
        item["comment"] = rule.comment
    return item


@route("GET", "/cluster/ha/rules")
def ha_rules(ctx: Context) -> list[dict[str, Any]]:
    _rules_exist(ctx)
    ctx.check("/", ["Sys.Audit"])
    estate = ctx.cluster.estate
    wanted_type = ctx.params.get("type")
    wanted_sid = ctx.params.get("resource")
    items = []
    for order, rule in enumerate(estate.ha_rules.values(), start=1):
        if wanted_type and rule.type != wanted_type:
            continue
        if wanted_sid and sid_of(estate, wanted_sid) not in rule.resource_ids():
            continue
        items.append(_rule_item(estate, rule, order))
    return items


def _rule(ctx: Context) -> tuple[HARule, int]:
    estate = ctx.cluster.estate
    for order, rule in enumerate(estate.ha_rules.values(), start=1):
        if rule.rule == ctx.params["rule"]:
            return rule, order
    raise ApiError(500, f"no such ha rule '{ctx.params['rule']}'")


@route("GET", "/cluster/ha/rules/{rule}")
def ha_rule(ctx: Context) -> dict[str, Any]:
    _rules_exist(ctx)
    ctx.check("/", ["Sys.Audit"])
    rule, order = _rule(ctx)
    return _rule_item(ctx.cluster.estate, rule, order)


def _apply_rule(ctx: Context, rule: HARule) -> None:
    estate = ctx.cluster.estate
    if "resources" in ctx.params:
        sids = [sid_of(estate, s) for s in split_list(ctx.params["resources"])]
        unmanaged = [sid for sid in sids if sid not in estate.ha_resources]
        if unmanaged:
            raise ApiError(500, f"cannot use unmanaged resource(s) {', '.join(unmanaged)}.")
        rule.resources = ",".join(sids)
    if "nodes" in ctx.params:
        _check_nodes(estate, ctx.params["nodes"])
        rule.nodes = ctx.params["nodes"]
    if "strict" in ctx.params:
        rule.strict = 1 if ctx.params["strict"] else 0
    if "disable" in ctx.params:
        rule.disable = 1 if ctx.params["disable"] else 0
    if "affinity" in ctx.params:
        rule.affinity = ctx.params["affinity"]
    if "comment" in ctx.params:
        rule.comment = ctx.params["comment"]
    if rule.type == "node-affinity" and not rule.nodes:
        raise param_error({"nodes": "property is missing and it is not optional"})
    if rule.type == "resource-affinity" and not rule.affinity:
        raise param_error({"affinity": "property is missing and it is not optional"})


@route("POST", "/cluster/ha/rules")
def ha_rule_create(ctx: Context) -> None:
    _rules_exist(ctx)
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    name = ctx.params["rule"]
    if name in estate.ha_rules:
        raise ApiError(500, f"ha rule '{name}' already defined")
    rule = HARule(name, ctx.params["type"], "")
    _apply_rule(ctx, rule)
    estate.ha_rules[name] = rule
    return None


@route("PUT", "/cluster/ha/rules/{rule}")
def ha_rule_update(ctx: Context) -> None:
    _rules_exist(ctx)
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    rule, _order = _rule(ctx)
    if ctx.params["type"] != rule.type:
        raise param_error({"type": "rule type cannot be changed"})
    digest = ctx.params.get("digest")
    if digest and digest != estate.ha_rules_digest():
        raise ApiError(
            500, "detected modified configuration - file changed by other user? Try again."
        )
    for key in split_list(ctx.params.get("delete", "")):
        if key == "comment":
            rule.comment = None
        elif key in {"disable", "strict"}:
            setattr(rule, key, 0)
    _apply_rule(ctx, rule)
    return None


@route("DELETE", "/cluster/ha/rules/{rule}")
def ha_rule_delete(ctx: Context) -> None:
    _rules_exist(ctx)
    ctx.check("/", ["Sys.Console"])
    rule, _order = _rule(ctx)
    del ctx.cluster.estate.ha_rules[rule.rule]
    return None
