"""1,000 concurrent executions of approved requests tracked by 2 Celery workers.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite; use
PostgreSQL: two worker processes write concurrently) and serves one pvesim cluster with
``--executions`` QEMU guests, each given a snapshot and synced into the inventory.
Then approves one ``snapshot_delete`` request per guest at once (each execution: start the
delete task, poll it until it ends, close the copy-ledger row) and lets two Celery worker
processes (concurrency 1 each; broker, channel layer and cache on Redis database
``--redis-db``) run them, with the
simulator's clock slowed (``--task-seconds``: how long each delete task takes in wall
time), so every execution waits on a running Proxmox task for many polls.

Measures from the workers' own logs: every ``execution_advance`` run and its duration
(p50/p99/max: a worker that slept on a task would show runs as long as the task), the
workers' busy share of the wall time, and from the database and pvesim: executions
succeeded/failed, Proxmox delete tasks started (must equal the executions: nothing ran
twice) and the wall time until the last execution ended. Prints one JSON object.

Usage: ``python bench/approvals_bench.py [--executions N] [--task-seconds S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
_RUN = re.compile(r"Task approvals\.execution_advance\[[^\]]+\] succeeded in ([0-9.]+)s")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


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


def _workers(env: dict[str, str], log_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    workers = []
    for index in (1, 2):
        log = log_dir / f"worker{index}.log"
        command = [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "governance",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench{index}@%h",
            "--loglevel",
            "INFO",
            "--logfile",
            str(log),
        ]
        # The banner would mix with the figures on stdout; the log file has the rest.
        process = subprocess.Popen(  # noqa: S603 - our own worker
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL
        )
        workers.append((process, log))
    return workers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--task-seconds", type=float, default=30.0)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    # Broker, channel layer (live progress) and cache on Redis, as in production.
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["REDIS_URL"] = broker

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print("creating the test database ...", file=sys.stderr)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    from governance.approvals.models import Execution, ExecutionState, Request
    from governance.approvals.services.executions import request_approved
    from governance.celery import app
    from inventory.models import Cluster, VirtualMachine
    from inventory.sync.service import cluster_sync
    from tests.factories import UserFactory
    from tests.inventory.conftest import fingerprint_of_file

    app.control.purge()
    farm, sim, vmids = _estate(args.executions)
    workers: list[tuple[subprocess.Popen, Path]] = []
    try:
        cluster = Cluster.objects.create(
            name=sim.name,
            api_url=sim.url,
            token_id=sim.token_id,
            token_secret=sim.token_secret,
            fingerprint=fingerprint_of_file(sim.cert_file),
        )
        cluster_sync(cluster_id=cluster.pk)
        vms = list(VirtualMachine.objects.filter(cluster=cluster, vmid__in=vmids))
        requester = UserFactory(username="bench-requester")
        # Each delete task lasts --task-seconds of wall time (pvesim's delete takes 1 s).
        farm.clock.set_speed(1.0 / args.task_seconds)

        settings = connection.settings_dict
        env = {
            **os.environ,
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": broker,
            "PYTHONUNBUFFERED": "1",
        }
        if settings["ENGINE"].endswith("postgresql"):
            env["DATABASE_URL"] = (
                f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}"
                f"/{settings['NAME']}"
            )
        else:
            env["DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
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
        log_dir = Path(tempfile.mkdtemp(prefix="approvals-bench-"))
        workers = _workers(env, log_dir)
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
        for process, _ in workers:
            process.send_signal(signal.SIGTERM)
        for process, _ in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        farm.stop()
    try:
        _report(args, sim, vms, workers, queued_s, wall, peak_waiting)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _report(args, sim, vms, workers, queued_s, wall, peak_waiting) -> None:
    from governance.approvals.models import Execution

    runs: list[float] = []
    per_worker = []
    for _, log in workers:
        found = [float(m) for m in _RUN.findall(log.read_text())] if log.exists() else []
        per_worker.append(len(found))
        runs.extend(found)
    from django.db.models import Count

    states = dict(Execution.objects.values_list("state").annotate(n=Count("id")))
    # pvesim keeps 20,000 finished tasks, far more than this run starts.
    deletes = [t for t in sim.cluster.tasks.tasks.values() if t.type == "qmdelsnapshot"]
    figures = {
        "executions": len(vms),
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
        "advance_p99_ms": round(_percentile(runs, 0.99) * 1000, 1),
        "advance_max_ms": round(max(runs) * 1000, 1) if runs else None,
        "worker_busy_share": round(sum(runs) / (2 * wall), 3) if wall else None,
        "delete_tasks_started": len(deletes),
        "delete_tasks_per_vm_max": max(Counter(t.id for t in deletes).values(), default=0),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
