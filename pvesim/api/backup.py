"""Backups: ``POST /nodes/{node}/vzdump`` (a ``vzdump`` task that locks each guest while it
is saved), scheduled jobs under ``/cluster/backup`` and ``not-backed-up``."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import config_value, lock_message
from pvesim.api.router import route
from pvesim.model import Estate, Guest
from pvesim.model.config import split_list
from pvesim.model.infra import Volume
from pvesim.model.schedule import next_run
from pvesim.model.stats import boot_disk_size
from pvesim.tasks import TaskError

BACKUP_RATE = 400 * 1024**2  # bytes/s of a simulated vzdump
_JOB_BOOLS = frozenset(
    {"all", "enabled", "protected", "quiet", "remove", "repeat-missed", "stdexcludes", "stop"}
)
_JOB_INTS = frozenset({"bwlimit", "ionice", "lockwait", "maxfiles", "pigz", "stopwait", "zstd"})
_NOT_JOB_KEYS = frozenset({"id", "delete", "digest", "starttime", "dow"})


def _selected(estate: Estate, job: dict[str, str], *, node: str | None) -> list[Guest]:
    """Guests a job or vzdump call covers (``node`` limits to that node)."""
    excluded = set(split_list(job.get("exclude", "")))
    if job.get("all") == "1":
        chosen = [g for g in estate.guests.values() if str(g.vmid) not in excluded]
    elif job.get("pool"):
        chosen = [g for g in estate.guests.values() if g.pool == job["pool"]]
    else:
        wanted = {int(v) for v in split_list(job.get("vmid", "")) if v.isdigit()}
        chosen = [g for g in estate.guests.values() if g.vmid in wanted]
    if node is not None:
        chosen = [g for g in chosen if g.node == node]
    return [g for g in chosen if not g.is_template]


def _backup_volid(storage_id: str, storage_type: str, guest: Guest, when: float) -> str:
    stamp = time.gmtime(int(when))
    if storage_type == "pbs":
        kind = "vm" if guest.kind == "qemu" else "ct"
        return (
            f"{storage_id}:backup/{kind}/{guest.vmid}/{time.strftime('%Y-%m-%dT%H:%M:%SZ', stamp)}"
        )
    ext = "vma.zst" if guest.kind == "qemu" else "tar.zst"
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    when_text = time.strftime("%Y_%m_%d-%H_%M_%S", stamp)
    return f"{storage_id}:backup/vzdump-{kind}-{guest.vmid}-{when_text}.{ext}"


@route("POST", "/nodes/{node}/vzdump")
def vzdump(ctx: Context) -> str:
    node = ctx.params["node"]
    ctx.require_node(node)
    estate = ctx.cluster.estate
    job = {key: config_value(value) for key, value in ctx.params.items()}
    if not any(key in job for key in ("vmid", "all", "pool")):
        raise param_error({"vmid": "you need to specify either 'vmid', 'pool' or 'all'"})
    for param in ("tmpdir", "dumpdir", "script", "job-id"):
        if param in ctx.params:
            ctx.check_root(param)
    storage_id = job.get("storage") or next(
        (s.storage for s in estate.storages.values() if "backup" in s.content), "local"
    )
    storage = estate.storage(storage_id)
    ctx.check(f"/storage/{storage_id}", ["Datastore.AllocateSpace"])
    if "backup" not in storage.content:
        raise ApiError(500, f"storage '{storage_id}' does not support backups")
    if not storage.available_on(node):
        raise ApiError(500, f"storage '{storage_id}' is not available on node '{node}'")
    guests = _selected(estate, job, node=node)
    for guest in guests:
        ctx.check(f"/vms/{guest.vmid}", ["VM.Backup"])
    mode = job.get("mode", "snapshot")
    cluster = ctx.cluster
    failures: list[int] = []
    log: list[str] = []
    steps: list = [(0.5, f"INFO: starting new backup job: vzdump {_describe(job)}")]
    for guest in guests:
        steps.extend(
            _guest_steps(cluster, guest, storage_id, storage.type, node, mode, failures, log)
        )

    def finish() -> None:
        if failures:
            raise_job_errors()

    steps.append(
        (
            0.2,
            "INFO: Backup job finished" + (" with errors" if failures else " successfully"),
            finish,
        )
    )
    ident = str(guests[0].vmid) if len(guests) == 1 else ""
    task = ctx.start_task_obj(node=node, type="vzdump", id=ident, steps=steps)
    task.lines = log  # per-guest failures are logged by the steps themselves
    return task.upid


def raise_job_errors() -> None:
    raise TaskError("job errors")


def _describe(job: dict[str, str]) -> str:
    return " ".join(f"--{k} {v}" for k, v in job.items() if k != "node")


def _guest_steps(
    cluster: Any,
    guest: Guest,
    storage_id: str,
    storage_type: str,
    node: str,
    mode: str,
    failures: list[int],
    log: list[str],
) -> list:
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    size = max(boot_disk_size(guest) // 3, 256 * 1024**2)
    state = {"locked": False}

    def begin() -> None:
        if guest.lock:
            failures.append(guest.vmid)
            log.append(f"ERROR: Backup of VM {guest.vmid} failed - {lock_message(guest)}")
            return
        guest.config["lock"] = "backup"
        state["locked"] = True

    def end() -> None:
        if not state["locked"]:
            return
        if guest.config.get("lock") == "backup":
            del guest.config["lock"]
        now = cluster.now()
        volid = _backup_volid(storage_id, storage_type, guest, now)
        fmt = (
            f"pbs-{'vm' if kind == 'qemu' else 'ct'}"
            if storage_type == "pbs"
            else volid.rsplit(f"{guest.vmid}-", 1)[1].split(".", 1)[1]
        )
        estate = cluster.estate
        estate.add_volume(
            estate.storages[storage_id],
            node,
            Volume(
                volid,
                "backup",
                size,
                fmt,
                ctime=int(now),
                vmid=guest.vmid,
                subtype=kind,
                notes=guest.name,
            ),
        )

    lines_begin = [
        f"INFO: Starting Backup of VM {guest.vmid} ({kind})",
        f"INFO: Backup started at {time.strftime('%Y-%m-%d %H:%M:%S')}",
        f"INFO: status = {guest.status}",
        f"INFO: backup mode: {mode}",
    ]
    return [
        (0.5, lines_begin, begin),
        (max(1.0, size / BACKUP_RATE), [f"INFO: transferred {size // 1024**2} MiB"], end),
        (0.1, f"INFO: Finished Backup of VM {guest.vmid}"),
    ]


# ---- scheduled jobs ---------------------------------------------------------------------------


def _job_item(job_id: str, job: dict[str, str], now: float) -> dict[str, Any]:
    item: dict[str, Any] = {"id": job_id}
    for key, value in job.items():
        if key in _JOB_BOOLS or key in _JOB_INTS:
            item[key] = int(value) if value.lstrip("-").isdigit() else value
        elif key == "prune-backups":
            item[key] = {
                k: int(v) if v.isdigit() else v
                for k, _, v in (p.partition("=") for p in value.split(",") if p)
            }
        else:
            item[key] = value
    item.setdefault("type", "vzdump")
    if job.get("enabled", "1") == "1" and job.get("schedule"):
        upcoming = next_run(job["schedule"], now)
        if upcoming is not None:
            item["next-run"] = upcoming
    return item


@route("GET", "/cluster/backup")
def backup_jobs(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    return [_job_item(k, j, ctx.now) for k, j in ctx.cluster.estate.backup_jobs.items()]


def _job(ctx: Context) -> tuple[str, dict[str, str]]:
    job_id = ctx.params["id"]
    job = ctx.cluster.estate.backup_jobs.get(job_id)
    if job is None:
        raise ApiError(500, f"job '{job_id}' does not exist")
    return job_id, job


@route("GET", "/cluster/backup/{id}")
def backup_job(ctx: Context) -> dict[str, Any]:
    ctx.check("/", ["Sys.Audit"])
    job_id, job = _job(ctx)
    item = _job_item(job_id, job, ctx.now)
    item.pop("next-run", None)
    return item


def _apply_job_params(ctx: Context, job: dict[str, str]) -> None:
    for key, value in ctx.params.items():
        if key not in _NOT_JOB_KEYS:
            job[key] = config_value(value)
    if "starttime" in ctx.params:
        dow = ctx.params.get("dow", "mon,tue,wed,thu,fri,sat,sun")
        job["schedule"] = f"{dow} {ctx.params['starttime']}"
    if job.get("all") == "1" and job.get("vmid"):
        raise param_error({"all": "option conflicts with option 'vmid'"})
    if not any(job.get(k) for k in ("vmid", "pool")) and job.get("all") != "1":
        raise param_error({"vmid": "you need to specify either 'vmid', 'pool' or 'all'"})
    if job.get("schedule"):
        try:
            next_run(job["schedule"], ctx.now)
        except ValueError as exc:
            raise param_error({"schedule": str(exc)}) from None


@route("POST", "/cluster/backup")
def backup_job_create(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    estate = ctx.cluster.estate
    job_id = ctx.params.get("id") or str(uuid.uuid4())
    if job_id in estate.backup_jobs:
        raise ApiError(500, f"Job '{job_id}' already exists")
    job: dict[str, str] = {"type": "vzdump", "enabled": "1"}
    _apply_job_params(ctx, job)
    job.setdefault("schedule", "00:00")
    estate.backup_jobs[job_id] = job
    return None


@route("PUT", "/cluster/backup/{id}")
def backup_job_update(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    _job_id, job = _job(ctx)
    updated = dict(job)
    for key in split_list(ctx.params.get("delete", "")):
        updated.pop(key, None)
    _apply_job_params(ctx, updated)
    job.clear()
    job.update(updated)
    return None


@route("DELETE", "/cluster/backup/{id}")
def backup_job_delete(ctx: Context) -> None:
    ctx.check("/", ["Sys.Modify"])
    job_id, _job_config = _job(ctx)
    del ctx.cluster.estate.backup_jobs[job_id]
    return None


@route("GET", "/cluster/backup-info/not-backed-up")
def not_backed_up(ctx: Context) -> list[dict[str, Any]]:
    ctx.check("/", ["Sys.Audit"])
    estate = ctx.cluster.estate
    covered: set[int] = set()
    for job in estate.backup_jobs.values():
        covered.update(g.vmid for g in _selected(estate, job, node=job.get("node")))
    return [
        {"vmid": g.vmid, "type": g.kind, "name": g.name}
        for g in estate.guests.values()
        if g.vmid not in covered and not g.is_template
    ]
