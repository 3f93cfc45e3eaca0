"""Inventory sync benchmark: first full sync of 10,000 guests over 2 clusters, then a
steady-state cycle with no change.

pvesim serves the clusters from a subprocess; this process is the syncing worker (it
runs ``cluster_sync`` as the Celery task would). Targets (issue 4): the first sync of
both clusters under 120 s with the worker's peak RSS under 512 MB; a steady-state
cycle whose calls per cluster are the fixed reads plus the rolling re-read share.
Guest agent OS reads (``get-osinfo``) are counted apart: one per running agent-enabled
VM until each is known, at most ``inventory.sync.osinfo.MAX_READS`` per cycle, so the
steady cycle still reads the backlog the first sync's cap left.

Database: ``BENCH_DATABASE_URL`` if set, else a fresh PostgreSQL database
``steward_bench`` on 127.0.0.1 when reachable, else SQLite in a temporary folder.
Prints one JSON object; run standalone it also writes ``bench/results/inventory_sync.json``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUESTS = int(os.environ.get("BENCH_GUESTS", "10000"))
CLUSTERS = 2
TARGET_SECONDS = 120
TARGET_RSS_MIB = 512
AGENT_CALL = "GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo"


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def database_url(workdir: Path) -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    try:
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2
        ) as conn:
            conn.execute("DROP DATABASE IF EXISTS steward_bench")
            conn.execute("CREATE DATABASE steward_bench")
        return "postgres://postgres@127.0.0.1:5432/steward_bench"
    except Exception:  # any failure means "no PostgreSQL here"
        return f"sqlite:///{workdir / 'bench.sqlite3'}"


def start_pvesim(workdir: Path) -> tuple[subprocess.Popen[bytes], list[dict[str, Any]]]:
    info = workdir / "pvesim.json"
    command = [sys.executable, "-m", "pvesim", "serve", "--scenario", "large"]
    command += ["--clusters", str(CLUSTERS), "--guests", str(GUESTS), "--nodes", "8"]
    command += ["--port", "0", "--auth-delay", "0", "--info", str(info), "--save-every", "0"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while not info.exists():
        if process.poll() is not None:
            raise RuntimeError("pvesim exited early")
        time.sleep(0.01)
    return process, json.loads(info.read_text())["clusters"]


def main() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="steward-sync-bench-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "STEWARD_DATA_DIR": str(workdir),
            "DATABASE_URL": database_url(workdir),
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from inventory.models import Cluster, VirtualMachine
    from inventory.sync.osinfo import MAX_READS
    from inventory.sync.service import cluster_sync

    call_command("migrate", verbosity=0)
    process, infos = start_pvesim(workdir)
    try:
        clusters = [
            Cluster.objects.create(
                name=info["name"],
                api_url=info["url"].split("/api2/", 1)[0],
                token_id=info["token_id"],
                token_secret=info["token_secret"],
                fingerprint=info["fingerprint"],
            )
            for info in infos
        ]
        rss_before = peak_rss_mib()
        first: dict[str, Any] = {}
        started = time.perf_counter()
        for cluster in clusters:
            clock = time.perf_counter()
            run = cluster_sync(cluster_id=cluster.pk, full=True)
            calls = run.stats.get("api_calls", {})
            first[cluster.name] = {
                "status": run.status,
                "error": run.error[:300],
                "seconds": round(time.perf_counter() - clock, 2),
                "guests": run.stats.get("guests_seen"),
                "api_calls": sum(calls.values()),
                "agent_calls": calls.get(AGENT_CALL, 0),
                "calls": calls,
            }
        first_seconds = round(time.perf_counter() - started, 2)
        rss_first = peak_rss_mib()
        live = VirtualMachine.objects.filter(gone_since__isnull=True).count()

        steady: dict[str, Any] = {}
        for cluster in clusters:
            clock = time.perf_counter()
            run = cluster_sync(cluster_id=cluster.pk)
            calls = run.stats.get("api_calls", {})
            guests = run.stats.get("guests_seen") or 0
            steady[cluster.name] = {
                "status": run.status,
                "error": run.error[:300],
                "seconds": round(time.perf_counter() - clock, 2),
                "api_calls": sum(calls.values()),
                "per_guest_calls": sum(
                    v for k, v in calls.items() if "{vmid}" in k and k != AGENT_CALL
                ),
                "rolling_share_expected": math.ceil(guests * 60 / 3600),
                "agent_calls": calls.get(AGENT_CALL, 0),
                "agent_reads_due": run.stats.get("osinfo_due", 0),
                "fixed_calls": {k: v for k, v in calls.items() if "{vmid}" not in k},
            }
        result = {
            "database": connection.vendor,
            "guests": GUESTS,
            "clusters": CLUSTERS,
            "first_sync": {
                "seconds": first_seconds,
                "guests_in_db": live,
                "api_calls": sum(c["api_calls"] for c in first.values()),
                "peak_rss_mib": rss_first,
                "rss_before_sync_mib": rss_before,
                "per_cluster": first,
            },
            "steady_state": steady,
            "targets": {
                "first_sync_under_120s": first_seconds < TARGET_SECONDS,
                "peak_rss_under_512mib": rss_first < TARGET_RSS_MIB,
                "all_guests_synced": live == GUESTS,
                "steady_calls_are_fixed_plus_rolling_share": all(
                    s["per_guest_calls"] == s["rolling_share_expected"] for s in steady.values()
                ),
                "agent_calls_within_cycle_cap": all(
                    c["agent_calls"] <= MAX_READS for c in [*first.values(), *steady.values()]
                ),
            },
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        connection.close()
    return result


if __name__ == "__main__":
    figures = main()
    print(json.dumps(figures, indent=2))
    if "BENCH_RESULTS_DIR" not in os.environ:
        out = ROOT / "bench" / "results" / "inventory_sync.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
