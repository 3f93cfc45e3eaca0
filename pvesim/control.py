"""The control API: chaos and time, served under ``/_sim/`` on each cluster's port.

Requests carry the cluster's control key in header ``X-Pvesim-Key`` (written to the
``--info`` file); bodies are JSON objects; answers are JSON ``{"data": ...}`` or
``{"error": "..."}``. Actions are registered with :func:`control_action`; SIM-ESTATE's
out-of-band admin actions (attach USB, migrate, snapshot...) register the same way from a
module that is imported at start (any ``pvesim/api/*`` module is), and node failure
behaviour (HA recovery) hooks in through :data:`NODE_HOOKS`.

Built-in actions::

    GET  state                        clock, nodes and chaos settings
    POST time/advance {seconds}       jump simulated time, then apply due task steps
    POST time/speed {factor}          run simulated time factor x real time (0 freezes)
    POST node/down {node}             node offline: its running tasks die, hooks run
    POST node/up {node}               node back online, hooks run
    POST task/fail-next {type, message}
    POST latency {seconds, prefix}    sleep before answering API paths under prefix
    POST errors {status, message, prefix, count}   next ``count`` requests fail (-1: all)
    POST errors/clear
    POST corrupt {mode, prefix, count}   spoil the next ``count`` successful answers under
                                      prefix (-1: all): ``truncate`` cuts the JSON in half,
                                      ``garbage`` sends an HTML error page with status 200,
                                      ``duplicate-guest`` lists the first guest twice, the
                                      copy on another node (what a client may see mid-migration)
    POST corrupt/clear
    POST auth-delay {seconds}         hold auth-layer 401s (PVE: ~3 s)
    POST acl/add {path, roles, users|groups|tokens, propagate}
    POST save                         write the --state file now (when serving with one)
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from pvesim.access import AclEntry
from pvesim.cluster import Cluster

ControlFn = Callable[[Cluster, dict[str, Any]], Any]
CONTROL_ACTIONS: dict[tuple[str, str], ControlFn] = {}
UNLOCKED_ACTIONS: set[tuple[str, str]] = set()
"""Actions that take the locks they need themselves (e.g. ``save`` reads every cluster)."""
NODE_HOOKS: list[Callable[[Cluster, str, bool], None]] = []
"""Called as ``hook(cluster, node, online)`` under the cluster lock after a node changes."""
SAVE_HOOKS: list[Callable[[], Any]] = []
"""Registered by the CLI when serving with ``--state``; ``POST save`` calls them."""


class ControlError(Exception):
    """A refused control request (400 with ``{"error": message}``)."""


def control_action(
    name: str, *, method: str = "POST", locked: bool = True
) -> Callable[[ControlFn], ControlFn]:
    """Register ``fn(cluster, body) -> result`` as ``<method> /_sim/<name>``.

    The action runs under ``cluster.lock`` with due task steps applied, unless ``locked``
    is False: then it must lock what it touches, and never hold one cluster's lock while
    taking another's (two such actions on two clusters would deadlock).
    """

    def decorate(fn: ControlFn) -> ControlFn:
        CONTROL_ACTIONS[(method, name)] = fn
        if not locked:
            UNLOCKED_ACTIONS.add((method, name))
        return fn

    return decorate


def handle_control(
    cluster: Cluster, method: str, name: str, body: bytes, headers: Any
) -> tuple[int, dict[str, Any]]:
    """Authenticate and run one control action; returns ``(status, payload)``."""
    from pvesim.api.router import default_router

    default_router()  # imports every api module, which may register actions
    key = headers.get("X-Pvesim-Key") or ""
    if not hmac.compare_digest(key, cluster.control_key):
        return 403, {"error": "bad or missing X-Pvesim-Key"}
    action = CONTROL_ACTIONS.get((method, name.strip("/")))
    if action is None:
        return 404, {"error": f"no control action {method} {name}"}
    try:
        params = _decode(body, headers)
        if (method, name.strip("/")) in UNLOCKED_ACTIONS:
            return 200, {"data": action(cluster, params)}
        with cluster.lock:
            cluster.tick()
            result = action(cluster, params)
            cluster.tick()
    except (ControlError, KeyError, ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}
    return 200, {"data": result}


def _decode(body: bytes, headers: Any) -> dict[str, Any]:
    if not body:
        return {}
    if (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode()))
    decoded = json.loads(body)
    if not isinstance(decoded, dict):
        raise ControlError("body must be a JSON object")
    return decoded


def _node(cluster: Cluster, params: dict[str, Any]) -> Any:
    node = cluster.estate.nodes.get(params["node"])
    if node is None:
        raise ControlError(f"no such node {params['node']!r}")
    return node


@control_action("state", method="GET")
def _state(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    chaos = cluster.chaos
    return {
        "cluster": cluster.name,
        "now": cluster.now(),
        "speed": cluster.clock.speed,
        "pve": cluster.profile.version,
        "nodes": {name: int(node.online) for name, node in cluster.estate.nodes.items()},
        "guests": len(cluster.estate.guests),
        "running_tasks": sum(1 for t in cluster.tasks.tasks.values() if t.exitstatus is None),
        "chaos": {
            "latency": chaos.latency,
            "error_status": chaos.error_status,
            "error_count": chaos.error_count,
            "auth_delay": chaos.auth_delay,
            "fail_next": dict(cluster.tasks.fail_next),
        },
    }


@control_action("time/advance")
def _advance(cluster: Cluster, params: dict[str, Any]) -> dict[str, float]:
    seconds = float(params["seconds"])
    if seconds < 0:
        raise ControlError("seconds must be >= 0")
    cluster.clock.advance(seconds)
    return {"now": cluster.tick()}


@control_action("time/speed")
def _speed(cluster: Cluster, params: dict[str, Any]) -> dict[str, float]:
    cluster.clock.set_speed(float(params["factor"]))
    return {"speed": cluster.clock.speed}


def node_set_online(cluster: Cluster, name: str, online: bool) -> None:
    """Flip a node and let the hooks (HA, guests) react; callers hold the lock."""
    node = cluster.estate.nodes.get(name)
    if node is None:
        raise ControlError(f"no such node {name!r}")
    if node.online == online:
        return
    now = cluster.now()
    node.online = online
    if online:
        node.boot_time = now
    else:
        cluster.tasks.fail_node(name, now)
    for hook in NODE_HOOKS:
        hook(cluster, name, online)


@control_action("node/down")
def _node_down(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    node_set_online(cluster, _node(cluster, params).name, False)
    return {"node": params["node"], "online": 0}


@control_action("node/up")
def _node_up(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    node_set_online(cluster, _node(cluster, params).name, True)
    return {"node": params["node"], "online": 1}


@control_action("task/fail-next")
def _fail_next(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    task_type = str(params["type"])
    cluster.tasks.fail_next[task_type] = str(params.get("message") or "simulated failure")
    return {"type": task_type}


@control_action("latency")
def _latency(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    cluster.chaos.latency = max(0.0, float(params.get("seconds", 0)))
    cluster.chaos.latency_prefix = str(params.get("prefix", ""))
    return {"seconds": cluster.chaos.latency, "prefix": cluster.chaos.latency_prefix}


@control_action("errors")
def _errors(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    status = int(params.get("status", 500))
    if not 400 <= status <= 599:
        raise ControlError("status must be 4xx or 5xx")
    chaos = cluster.chaos
    chaos.error_status, chaos.error_message = status, str(params.get("message", "injected error"))
    chaos.error_prefix, chaos.error_count = (
        str(params.get("prefix", "/")),
        int(params.get("count", 1)),
    )
    return {"status": status, "count": chaos.error_count}


@control_action("errors/clear")
def _errors_clear(cluster: Cluster, params: dict[str, Any]) -> None:
    cluster.chaos.error_status, cluster.chaos.error_count = 0, 0


CORRUPT_MODES = ("truncate", "garbage", "duplicate-guest")


@control_action("corrupt")
def _corrupt(cluster: Cluster, params: dict[str, Any]) -> dict[str, Any]:
    mode = str(params.get("mode", ""))
    if mode not in CORRUPT_MODES:
        raise ControlError(f"mode must be one of {', '.join(CORRUPT_MODES)}")
    chaos = cluster.chaos
    chaos.corrupt_mode, chaos.corrupt_prefix = mode, str(params.get("prefix", "/"))
    chaos.corrupt_count = int(params.get("count", 1))
    return {"mode": mode, "count": chaos.corrupt_count}


@control_action("corrupt/clear")
def _corrupt_clear(cluster: Cluster, params: dict[str, Any]) -> None:
    cluster.chaos.corrupt_mode, cluster.chaos.corrupt_count = "", 0


def corrupt_answer(cluster: Cluster, api_path: str, payload: dict[str, Any]) -> bytes | None:
    """The spoiled body for this answer, or None to send it as it is."""
    chaos = cluster.chaos
    if not chaos.corrupt_count or not api_path.startswith(chaos.corrupt_prefix or "/"):
        return None
    with cluster.lock:
        if not chaos.corrupt_count:
            return None
        if chaos.corrupt_count > 0:
            chaos.corrupt_count -= 1
        nodes = list(cluster.estate.nodes)
    if chaos.corrupt_mode == "garbage":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    body = json.dumps(payload, separators=(",", ":")).encode()
    if chaos.corrupt_mode == "truncate":
        return body[: len(body) // 2]
    data = payload.get("data")
    guest = (
        next((i for i in data or () if isinstance(i, dict) and "vmid" in i and "node" in i), None)
        if isinstance(data, list)
        else None
    )
    if guest is None or len(nodes) < 2:
        return body
    other = (
        nodes[(nodes.index(guest["node"]) + 1) % len(nodes)] if guest["node"] in nodes else nodes[0]
    )
    copy = {**guest, "node": other, "id": f"{guest.get('type', 'qemu')}/{guest['vmid']}"}
    return json.dumps({**payload, "data": [*data, copy]}, separators=(",", ":")).encode()


@control_action("auth-delay")
def _auth_delay(cluster: Cluster, params: dict[str, Any]) -> dict[str, float]:
    cluster.chaos.auth_delay = max(0.0, float(params["seconds"]))
    return {"seconds": cluster.chaos.auth_delay}


@control_action("acl/add")
def _acl_add(cluster: Cluster, params: dict[str, Any]) -> dict[str, int]:
    """What an admin does in the GUI's Permissions panel (no permission checks)."""
    from pvesim.spec.formats import split_list

    added = 0
    propagate = bool(int(params.get("propagate", 1)))
    for roleid in split_list(str(params["roles"])):
        if roleid not in cluster.access.roles:
            raise ControlError(f"role '{roleid}' does not exist")
        for kind, key in (("user", "users"), ("group", "groups"), ("token", "tokens")):
            for ugid in split_list(str(params.get(key, ""))):
                cluster.access.acl_set(AclEntry(str(params["path"]), kind, ugid, roleid, propagate))
                added += 1
    return {"added": added}


@control_action("save", locked=False)
def _save(cluster: Cluster, params: dict[str, Any]) -> dict[str, int]:
    if not SAVE_HOOKS:
        raise ControlError("not serving with --state")
    for hook in SAVE_HOOKS:
        hook()
    return {"saved": len(SAVE_HOOKS)}
