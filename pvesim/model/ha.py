"""Where HA rules (PVE 9) or groups (PVE 8) let a resource run, and where it goes next.

``node-affinity`` rules and groups rank nodes by priority; ``strict`` rules and
``restricted`` groups forbid all other nodes. Negative ``resource-affinity`` rules keep
resources apart: a node already running a partner is avoided.
"""

from __future__ import annotations

from pvesim.model.clusterconf import parse_node_priorities
from pvesim.model.estate import Estate


def _rule_priorities(estate: Estate, sid: str) -> tuple[dict[str, int] | None, bool, str | None]:
    """(node priorities, strict, rule/group name) that apply to ``sid``; (None, False, None)."""
    if estate.pve_major >= 9:
        for rule in estate.ha_rules.values():
            if rule.type == "node-affinity" and not rule.disable and sid in rule.resource_ids():
                return rule.node_priorities(), bool(rule.strict), rule.rule
        return None, False, None
    resource = estate.ha_resources.get(sid)
    group = estate.ha_groups.get(resource.group) if resource and resource.group else None
    if group is None:
        return None, False, None
    return parse_node_priorities(group.nodes), bool(group.restricted), group.group


def ha_forbidden_reason(estate: Estate, sid: str, node: str) -> str | None:
    """Why ``sid`` may not run on ``node`` (strict rule / restricted group), else None."""
    priorities, strict, name = _rule_priorities(estate, sid)
    if priorities is None or not strict or node in priorities:
        return None
    what = "node affinity rule" if estate.pve_major >= 9 else "restricted group"
    return f"{what} '{name}'"


def ha_partners_on(estate: Estate, sid: str, node: str) -> list[str]:
    """Resources in a negative resource-affinity rule with ``sid`` already on ``node``."""
    partners: list[str] = []
    for rule in estate.ha_rules.values():
        if rule.type != "resource-affinity" or rule.affinity != "negative" or rule.disable:
            continue
        members = rule.resource_ids()
        if sid not in members:
            continue
        for other in members:
            if other == sid:
                continue
            guest = estate.guests.get(int(other.split(":", 1)[1]))
            if guest is not None and guest.node == node:
                partners.append(other)
    return partners


def ha_recovery_node(estate: Estate, sid: str, *, exclude: str) -> str | None:
    """The node the CRM recovers ``sid`` to after ``exclude`` failed, or None if none fits.

    Highest-priority online node of the rule/group; others only when not strict. Ties go to
    the node with fewest guests, as the CRM balances by service count.
    """
    online = [n.name for n in estate.nodes.values() if n.online and n.name != exclude]
    if not online:
        return None
    priorities, strict, _ = _rule_priorities(estate, sid)
    load = dict.fromkeys(online, 0)
    for guest in estate.guests.values():
        if guest.node in load:
            load[guest.node] += 1
    candidates = online
    if priorities is not None:
        ranked = [n for n in online if n in priorities]
        if ranked:
            best = max(priorities[n] for n in ranked)
            candidates = [n for n in ranked if priorities[n] == best]
        elif strict:
            return None
    apart = [n for n in candidates if not ha_partners_on(estate, sid, n)]
    candidates = apart or candidates
    return min(candidates, key=lambda n: (load[n], n))


def ha_failback_node(estate: Estate, sid: str, *, current: str) -> str | None:
    """Where a resource with ``failback`` returns once a node it prefers is back: the best
    online node of its rule/group when that ranks above ``current``, else None."""
    resource = estate.ha_resources.get(sid)
    priorities, _strict, _name = _rule_priorities(estate, sid)
    if resource is None or not resource.failback or priorities is None:
        return None
    online = [n for n in priorities if n in estate.nodes and estate.nodes[n].online]
    if not online:
        return None
    best = max(online, key=lambda n: (priorities[n], n == current))
    if priorities[best] > priorities.get(current, -1):
        return best
    return None
