"""High availability: resources, status, CRM requests and node-failure recovery that
honours node affinity (a hook of the control API's node/down). Groups and rules: ``ha_rules``.

Read needs Sys.Audit on ``/``, write Sys.Console on ``/``.
"""

from __future__ import annotations

import time
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_migrate import crm_move_start
from pvesim.api.guest_power import HA_CRM_DELAY, guest_start_now, guest_stop_now
from pvesim.api.router import route
from pvesim.cluster import Cluster
from pvesim.control import NODE_HOOKS
from pvesim.model import Estate
from pvesim.model.clusterconf import HAResource
from pvesim.model.config import split_list
from pvesim.model.ha import ha_failback_node, ha_forbidden_reason, ha_recovery_node
from pvesim.tasks import TaskError

FENCE_DELAY = 60.0  # watchdog fencing + CRM noticing the node loss
MIGRATED = "ha groups have been migrated to rules"


def sid_of(estate: Estate, text: str) -> str:
    """``100`` -> ``vm:100`` / ``ct:100`` (pve-ha-resource-or-vm-id)."""
    if ":" in text or not text.isdigit():
        return text
    guest = estate.guests.get(int(text))
    return f"{'ct' if guest is not None and guest.kind == 'lxc' else 'vm'}:{text}"


def _resource(ctx: Context) -> HAResource:
    estate = ctx.cluster.estate
    sid = sid_of(estate, ctx.params["sid"])
    resource = estate.ha_resources.get(sid)
    if resource is None:
        raise ApiError(500, f"no such resource '{sid}'")
    return resource


def _resource_item(estate: Estate, resource: HAResource) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sid": resource.sid,
        "type": resource.type,
        "state": resource.state,
        "max_restart": resource.max_restart,
        "max_relocate": resource.max_relocate,
        "failback": resource.failback,
        "digest": estate.ha_resources_digest(),
    }
    if resource.group:
        item["group"] = resource.group
    if resource.comment:
        item["comment"] = resource.comment
    return item


@route("GET", "/cluster/ha/resources")
def ha_resources(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    estate = ctx.cluster.estate
    wanted = ctx.params.get("type")
    return [
        _resource_item(estate, r)
        for r in estate.ha_resources.values()
        if wanted is None or r.type == wanted
    ]


@route("GET", "/cluster/ha/resources/{sid}")
def ha_resource_get(ctx: Context) -> dict[str, Any]:
    ctx.check("/", ["Sys.Audit"])
    return _resource_item(ctx.cluster.estate, _resource(ctx))


def _apply_resource(ctx: Context, resource: HAResource) -> None:
    estate = ctx.cluster.estate
    if "group" in ctx.params:
        if ctx.cluster.profile.ha_rules:
            raise ApiError(500, f"invalid parameter 'group': {MIGRATED}")
        if ctx.params["group"] not in estate.ha_groups:
            raise ApiError(500, f"group '{ctx.params['group']}' does not exist")
        resource.group = ctx.params["group"]
    for key in ("state", "comment"):
        if key in ctx.params:
            setattr(resource, key, ctx.params[key])
    for key in ("max_restart", "max_relocate"):
        if key in ctx.params:
            setattr(resource, key, int(ctx.params[key]))
    if "failback" in ctx.params:
        resource.failback = 1 if ctx.params["failback"] else 0
    guest = estate.guests.get(resource.vmid)
    if resource.state in {"started", "enabled"} and guest is not None and not guest.running:
        resource.crm_state = "starting"
        guest_start_now(guest, ctx.now)
        resource.crm_state = "started"
    elif resource.state in {"stopped", "disabled"}:
        if guest is not None and guest.running:
            guest_stop_now(guest, ctx.now)
        resource.crm_state = "stopped"
    elif resource.state == "ignored":
        resource.crm_state = "ignored"


@route("POST", "/cluster/ha/resources")
def ha_resource_create(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    sid = sid_of(estate, ctx.params["sid"])
    if "type" in ctx.params and ":" not in ctx.params["sid"]:
        sid = f"{ctx.params['type']}:{ctx.params['sid']}"
    kind, _, vmid = sid.partition(":")
    if kind not in {"vm", "ct"} or not vmid.isdigit():
        raise param_error({"sid": f"unable to parse HA resource ID '{sid}'"})
    guest = estate.guests.get(int(vmid))
    if guest is None or guest.kind != ("qemu" if kind == "vm" else "lxc"):
        raise ApiError(500, f"{'VM' if kind == 'vm' else 'CT'} {vmid} does not exist")
    if sid in estate.ha_resources:
        raise ApiError(500, f"resource ID '{sid}' already defined")
    resource = HAResource(sid=sid, crm_state="stopped" if not guest.running else "started")
    _apply_resource(ctx, resource)
    estate.ha_resources[sid] = resource
    return None


@route("PUT", "/cluster/ha/resources/{sid}")
def ha_resource_update(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    resource = _resource(ctx)
    digest = ctx.params.get("digest")
    if digest and digest != estate.ha_resources_digest():
        raise ApiError(
            500, "detected modified configuration - file changed by other user? Try again."
        )
    for key in split_list(ctx.params.get("delete", "")):
        if key in {"comment", "group"}:
            setattr(resource, key, None)
    _apply_resource(ctx, resource)
    return None


@route("DELETE", "/cluster/ha/resources/{sid}")
def ha_resource_delete(ctx: Context) -> None:
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    resource = _resource(ctx)
    del estate.ha_resources[resource.sid]
    if ctx.get("purge", True):
        for name, rule in list(estate.ha_rules.items()):
            remaining = [sid for sid in rule.resource_ids() if sid != resource.sid]
            if not remaining:
                del estate.ha_rules[name]
            else:
                rule.resources = ",".join(remaining)
    return None


def _crm_move(ctx: Context, *, relocate: bool) -> dict[str, Any]:
    ctx.check("/", ["Sys.Console"])
    estate = ctx.cluster.estate
    resource = _resource(ctx)
    target = ctx.params["node"]
    estate.node(target)
    reason = ha_forbidden_reason(estate, resource.sid, target)
    if reason is not None:
        raise ApiError(
            500, f"service '{resource.sid}' is not allowed on node '{target}' ({reason})"
        )
    guest = estate.guests[resource.vmid]
    if guest.node != target:
        crm_move_start(ctx.cluster, guest, resource, target, now=ctx.now, relocate=relocate)
    return {"sid": resource.sid, "requested-node": target}


@route("POST", "/cluster/ha/resources/{sid}/migrate")
def ha_migrate(ctx: Context) -> dict[str, Any]:
    return _crm_move(ctx, relocate=False)


@route("POST", "/cluster/ha/resources/{sid}/relocate")
def ha_relocate(ctx: Context) -> dict[str, Any]:
    return _crm_move(ctx, relocate=True)


# ---- status --------------------------------------------------------------------------------


@route("GET", "/cluster/ha/status/current")
def ha_status(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    estate = ctx.cluster.estate
    online = [n for n in estate.nodes.values() if n.online]
    master = online[0].name if online else next(iter(estate.nodes))
    stamp = int(ctx.now)
    quorate = len(online) * 2 > len(estate.nodes)
    items: list[dict[str, Any]] = [
        {
            "id": "quorum",
            "type": "quorum",
            "node": master,
            "quorate": 1 if quorate else 0,
            "status": "OK" if quorate else "No quorum on node",
        },
        {
            "id": "master",
            "type": "master",
            "node": master,
            "timestamp": stamp,
            "status": f"{master} (active, {_clock(ctx.now)})",
        },
    ]
    active_nodes = {
        estate.guests[r.vmid].node for r in estate.ha_resources.values() if r.vmid in estate.guests
    }
    for name, node in estate.nodes.items():
        mode = "active" if name in active_nodes else "idle"
        status = (
            f"{name} ({mode}, {_clock(ctx.now)})"
            if node.online
            else f"{name} (old timestamp - dead?, {_clock(ctx.now)})"
        )
        items.append(
            {"id": f"lrm:{name}", "type": "lrm", "node": name, "timestamp": stamp, "status": status}
        )
    for resource in estate.ha_resources.values():
        guest = estate.guests.get(resource.vmid)
        node = guest.node if guest is not None else master
        items.append(
            {
                "id": f"service:{resource.sid}",
                "type": "service",
                "sid": resource.sid,
                "node": node,
                "state": resource.crm_state,
                "crm_state": resource.crm_state,
                "request_state": resource.state,
                "max_restart": resource.max_restart,
                "max_relocate": resource.max_relocate,
                "failback": resource.failback,
                "status": f"{resource.sid} ({node}, {resource.crm_state})",
            }
        )
    return items


def _clock(now: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now))


# ---- node failure ------------------------------------------------------------------------


def ha_node_hook(cluster: Cluster, node: str, online: bool) -> None:
    """A node went down: its guests died; HA-managed ones are fenced and recovered to the
    best node their rules allow (or stay in ``recovery`` when none fits)."""
    estate = cluster.estate
    now = cluster.now()
    if online:
        for guest in estate.node_guests(node):
            if estate.ha_resource(guest) is None and guest.config.get("onboot") == "1":
                guest_start_now(guest, now)
        _failback(cluster, now)
        return
    for guest in list(estate.node_guests(node)):
        resource = estate.ha_resource(guest)
        was_running = guest.running
        guest_stop_now(guest, now)
        if resource is None or resource.state not in {"started", "enabled", "stopped"}:
            continue
        resource.crm_state = "fence"
        target = ha_recovery_node(estate, resource.sid, exclude=node)
        if target is None:
            resource.crm_state = "recovery"
            continue
        _schedule_recovery(cluster, guest, resource, target, start=was_running, now=now)


def _failback(cluster: Cluster, now: float) -> None:
    """Resources with ``failback`` go back to a higher-priority node that returned."""
    estate = cluster.estate
    for resource in estate.ha_resources.values():
        guest = estate.guests.get(resource.vmid)
        if guest is None or guest.lock or not estate.nodes[guest.node].online:
            continue
        target = ha_failback_node(estate, resource.sid, current=guest.node)
        if target is None:
            continue
        crm_move_start(cluster, guest, resource, target, now=now)


def _schedule_recovery(
    cluster: Cluster, guest: Any, resource: HAResource, target: str, *, start: bool, now: float
) -> None:
    estate = cluster.estate
    source = guest.node

    def recover() -> None:
        if not estate.nodes[target].online:
            resource.crm_state = "recovery"
            raise TaskError(f"recovery of {resource.sid} failed - node '{target}' is offline")
        guest.config.pop("lock", None)
        guest.node = target
        if start and resource.state in {"started", "enabled"}:
            guest_start_now(guest, cluster.now())
            resource.crm_state = "started"
        else:
            resource.crm_state = "stopped"

    cluster.tasks.start(
        now=now,
        node=target,
        type="qmstart" if guest.kind == "qemu" else "vzstart",
        id=str(guest.vmid),
        user="root@pam",
        steps=[
            (
                FENCE_DELAY + HA_CRM_DELAY,
                f"recover service '{resource.sid}' from fenced node '{source}' to node '{target}'",
                recover,
            )
        ],
        boot_time=estate.nodes[target].boot_time or None,
    )


NODE_HOOKS.append(ha_node_hook)
