"""Cluster status and the cluster-wide task list (nextid and resources are SIM-ESTATE's)."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.router import route
from pvesim.api.tasks import may_see

CLUSTER_TASKS_MAX = 2000  # PVE keeps a bounded recent-task list in pmxcfs


@route("GET", "/cluster/status")
def cluster_status(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", "Sys.Audit")
    nodes = list(ctx.cluster.estate.nodes.values())
    online = sum(1 for n in nodes if n.online)
    items: list[dict[str, Any]] = [
        {
            "id": "cluster",
            "type": "cluster",
            "name": ctx.cluster.name,
            "nodes": len(nodes),
            "quorate": int(online * 2 > len(nodes)),
            "version": len(nodes) + 2,
        }
    ]
    # The answering node is the first one online (the one the client's URL points at).
    local = next((n.name for n in nodes if n.online), None)
    for node in nodes:
        items.append(
            {
                "id": f"node/{node.name}",
                "type": "node",
                "name": node.name,
                "nodeid": node.nodeid,
                "ip": node.ip,
                "local": int(node.name == local),
                "online": int(node.online),
                "level": "",
            }
        )
    return items


@route("GET", "/cluster/tasks")
def cluster_tasks(ctx: Context) -> list[dict[str, Any]]:
    tasks = sorted(
        ctx.cluster.tasks.tasks.values(), key=lambda t: (t.starttime, t.pid), reverse=True
    )
    items = []
    for task in tasks:
        if not may_see(ctx, task):
            continue
        items.append(task.list_item())
        if len(items) >= CLUSTER_TASKS_MAX:
            break
    return items
