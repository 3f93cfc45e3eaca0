"""Node task endpoints: list, status, log, stop (NOTES.md section 4)."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.router import route
from pvesim.spec.formats import split_list
from pvesim.tasks import Task, parse_upid


def may_see(ctx: Context, task: Task, *, priv: str = "Sys.Audit") -> bool:
    """Owners see their tasks (a user also those of their tokens); others need ``priv``."""
    identity = ctx.user
    if identity.tokenid is None and task.owner == identity.userid:
        return True
    if task.user == identity.full:
        return True
    return ctx.can(f"/nodes/{task.node}", priv)


def _task(ctx: Context) -> Task:
    upid = ctx.params["upid"]
    fields = parse_upid(upid)
    if fields is None:
        raise param_error({"upid": "unable to parse worker upid"})
    task = ctx.cluster.tasks.tasks.get(upid)
    if task is None or fields["node"] != ctx.params["node"]:
        raise param_error({"upid": "no such task"})
    return task


def _task_for(ctx: Context, *, priv: str = "Sys.Audit") -> Task:
    ctx.require_node(ctx.params["node"])
    task = _task(ctx)
    if not may_see(ctx, task, priv=priv):
        raise ApiError(403, f"Permission check failed (/nodes/{task.node}, {priv})")
    return task


@route("GET", "/nodes/{node}/tasks/{upid}")
def task_index(ctx: Context) -> list[dict[str, str]]:
    _task_for(ctx)
    return [{"name": "log"}, {"name": "status"}]


@route("GET", "/nodes/{node}/tasks/{upid}/status")
def task_status(ctx: Context) -> dict[str, Any]:
    return _task_for(ctx).status_item()


@route("GET", "/nodes/{node}/tasks/{upid}/log")
def task_log(ctx: Context) -> list[dict[str, Any]]:
    task = _task_for(ctx)
    start = ctx.get("start")
    limit = 0 if ctx.get("download") else ctx.get("limit")
    lines = task.lines or ["no content"]
    ctx.total = len(lines)
    window = lines[start:] if limit == 0 else lines[start : start + limit]
    return [{"n": start + i + 1, "t": text} for i, text in enumerate(window)]


@route("DELETE", "/nodes/{node}/tasks/{upid}")
def task_stop(ctx: Context) -> None:
    task = _task_for(ctx, priv="Sys.Modify")
    if task.exitstatus is None:
        ctx.cluster.tasks.stop(task, ctx.now)


_STATUS_KINDS = {"ok", "warning", "error", "unknown"}


def _status_kind(task: Task) -> str:
    if task.exitstatus is None:
        return "unknown"
    if task.exitstatus == "OK":
        return "ok"
    if task.exitstatus.startswith("WARNINGS"):
        return "warning"
    return "error"


@route("GET", "/nodes/{node}/tasks")
def task_list(ctx: Context) -> list[dict[str, Any]]:
    node = ctx.params["node"]
    ctx.require_node(node)
    source = ctx.get("source")
    vmid = ctx.params.get("vmid")
    typefilter = ctx.params.get("typefilter")
    userfilter = ctx.params.get("userfilter")
    statuses = set(split_list(ctx.params.get("statusfilter", ""))) & _STATUS_KINDS
    since, until = ctx.params.get("since"), ctx.params.get("until")
    errors_only = ctx.get("errors")
    can_audit = ctx.can(f"/nodes/{node}", "Sys.Audit")
    matches = []
    for task in ctx.cluster.tasks.tasks.values():
        running = task.exitstatus is None
        if task.node != node:
            continue
        if (source == "archive" and running) or (source == "active" and not running):
            continue
        if vmid is not None and task.id != str(vmid):
            continue
        if typefilter and typefilter not in task.type:
            continue
        if userfilter and userfilter not in task.user:
            continue
        if errors_only and _status_kind(task) in ("ok", "unknown"):
            continue
        if statuses and _status_kind(task) not in statuses:
            continue
        if since is not None and task.starttime < since:
            continue
        if until is not None and task.starttime > until:
            continue
        if not can_audit and not may_see(ctx, task):
            continue
        matches.append(task)
    matches.sort(key=lambda t: (t.starttime, t.pid), reverse=True)
    ctx.total = len(matches)
    start, limit = ctx.get("start"), ctx.get("limit")
    window = matches[start:] if limit == 0 else matches[start : start + limit]
    return [task.list_item() for task in window]
