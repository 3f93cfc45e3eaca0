"""1,000 concurrent executions of approved requests tracked by 2 Celery workers.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite; use
PostgreSQL: two worker processes write concurrently) and serves one pvesim cluster with
``--executions`` QEMU guests, each given a snapshot and synced into the inventory.
Then approves one ``snapshot_delete`` request per guest at once (each execution: start the
delete task, poll it until it ends, close the copy-ledger row) and lets two Celery worker
processes (solo pool, one task at a time each; broker, channel layer and cache on Redis
database ``--redis-db``, or the embedded ones with ``--embedded``) run them, with the
simulator's clock slowed (``--task-seconds``: how long each delete task takes in wall
time), so every execution waits on a running Proxmox task for many polls.

Measures from the workers' own logs: every ``execution_advance`` run and its duration
(p50/p99/max: a worker that slept on a task would show runs as long as the task), the
workers' busy share of the wall time, and from the database and pvesim: executions
succeeded/failed, Proxmox delete tasks started (must equal the executions: nothing ran
twice) and the wall time from the workers' start until the last execution ended. Prints
one JSON object; ``meets_target`` says whether all succeeded, none started twice and no
run lasted a quarter of a task.

Usage: ``python bench/approvals_bench.py [--executions N] [--task-seconds S]``. The
default 1,000 executions took 13 minutes on two cores shared with other work (3 of
them seeding and queueing); pass fewer for development.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402 - after the path is set

_RUN = re.compile(r"Task approvals\.execution_advance\[[^\]]+\] succeeded in ([0-9.]+)s")


def _estate(executions: int):
    """pvesim cluster with ``executions`` QEMU guests, each with snapshot ``s1``."""
    from pvesim.clock import Clock
    from pvesim.testing import SimFarm

    farm = SimFarm(clock=Clock(start=time.time(), speed=1.0))
    sim = farm.start(identity="root", guests=int(executions * 1.4) + 50, nodes=6)
    guests = [
        g
        for g in sim.cluster.estate.guests.values()
        if g.kind == "qemu" and not g.config.get("template") and not g.lock
    ]
    if len(guests) < executions:
        raise SystemExit(f"only {len(guests)} QEMU guests; raise the guest count")
    chosen = guests[:executions]
    for guest in chosen:
        response = sim.api(
            "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/snapshot", data={"snapname": "s1"}
        )
        response.raise_for_status()
    sim.advance(120)
    return farm, sim, [g.vmid for g in chosen]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--task-seconds", type=float, default=30.0)
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="filesystem broker and SQLite channel layer instead of Redis (smoke tests)",
    )
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    harness.use_services(None if args.embedded else args.redis_db)
    with harness.scratch_database() as env:
        _run(args, env)


def _run(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.db import transaction
    from django.utils import timezone

    from governance.approvals.models import Execution, ExecutionState, Request
    from governance.approvals.services.executions import request_approved
    from governance.celery import app
    from inventory.models import VirtualMachine
    from tests.factories import UserFactory

    app.control.purge()
    farm, sim, vmids = _estate(args.executions)
    log_dir = Path(tempfile.mkdtemp(prefix="approvals-bench-"))
    logs = [log_dir / f"worker{index}.log" for index in (1, 2)]
    workers = []
    try:
        cluster = harness.cluster_register(sim)
        vms = list(VirtualMachine.objects.filter(cluster=cluster, vmid__in=vmids))
        requester = UserFactory(username="bench-requester")
        # Each delete task lasts --task-seconds of wall time (pvesim's delete takes 1 s).
        farm.clock.set_speed(1.0 / args.task_seconds)

        queue_started = time.perf_counter()
        now = timezone.now()
        for vm in vms:
            with transaction.atomic():
                request = Request.objects.create(
                    kind="snapshot_delete",
                    requester=requester,
                    vm=vm,
                    cluster=cluster,
                    parameters={"snapshot": "s1"},
                    idempotency_key=uuid.uuid4().hex,
                    created_at=now,
                    updated_at=now,
                )
                request_approved(request, actor=None, now=now, message="bench")
        queued_s = time.perf_counter() - queue_started
        print(f"{len(vms)} executions queued in {queued_s:.1f} s", file=sys.stderr)
        # All executions wait in the broker before the workers start: all are concurrent.
        workers = [
            harness.celery_start(harness.worker_arguments(f"bench{index}"), env=env, log=log)
            for index, log in enumerate(logs, start=1)
        ]
        started = time.perf_counter()

        peak_waiting = 0
        while time.perf_counter() - started < args.timeout:
            running = Execution.objects.filter(state=ExecutionState.RUNNING).count()
            waiting = Execution.objects.filter(
                state=ExecutionState.RUNNING, steps__state="waiting_task"
            ).count()
            peak_waiting = max(peak_waiting, waiting)
            if running == 0:
                break
            print(f"running {running}, waiting on a task {waiting}", file=sys.stderr)
            time.sleep(2.0)
        wall = time.perf_counter() - started
    finally:
        harness.celery_stop(workers)
        farm.stop()
    _report(args, sim, vms, logs, queued_s, wall, peak_waiting)


def _report(args, sim, vms, logs, queued_s, wall, peak_waiting) -> None:
    from governance.approvals.models import Execution

    runs: list[float] = []
    per_worker = []
    for log in logs:
        found = [float(m) for m in _RUN.findall(log.read_text())] if log.exists() else []
        per_worker.append(len(found))
        runs.extend(found)
    from django.db.models import Count

    states = dict(Execution.objects.values_list("state").annotate(n=Count("id")))
    # pvesim keeps 20,000 finished tasks, far more than this run starts.
    deletes = [t for t in sim.cluster.tasks.tasks.values() if t.type == "qmdelsnapshot"]
    executions = len(vms)
    started_per_vm = max(Counter(t.id for t in deletes).values(), default=0)
    advance_max = max(runs) if runs else 0.0
    figures = {
        "executions": executions,
        "workers": 2,
        "task_wall_seconds": args.task_seconds,
        "queued_s": round(queued_s, 2),
        "wall_s": round(wall, 2),
        "succeeded": states.get("succeeded", 0),
        "failed": states.get("failed", 0),
        "still_running": states.get("running", 0),
        "peak_waiting_on_task": peak_waiting,
        "advances": len(runs),
        "advances_per_worker": per_worker,
        "advance_p50_ms": round(statistics.median(runs) * 1000, 1) if runs else None,
        "advance_p99_ms": round(harness.percentile(runs, 0.99) * 1000, 1),
        "advance_max_ms": round(max(runs) * 1000, 1) if runs else None,
        "worker_busy_share": round(sum(runs) / (2 * wall), 3) if wall else None,
        "delete_tasks_started": len(deletes),
        "delete_tasks_per_vm_max": started_per_vm,
        # The requirement: every execution ends, none twice, and no advance waits on a
        # task (a run that slept on one would last about ``task_wall_seconds``).
        "all_succeeded": states.get("succeeded", 0) == executions,
        "nothing_started_twice": len(deletes) == executions and started_per_vm == 1,
        "advance_max_share_of_task": round(advance_max / args.task_seconds, 4),
        "no_worker_slept_on_a_task": advance_max < args.task_seconds / 4,
    }
    figures["meets_target"] = (
        figures["all_succeeded"]
        and figures["nothing_started_twice"]
        and figures["no_worker_slept_on_a_task"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
