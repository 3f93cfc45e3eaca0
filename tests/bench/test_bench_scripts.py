"""The approvals benchmark runs end to end at a tiny size and its figures add up (real
Celery worker processes, pvesim over HTTPS, a scratch database).

Only structural figures are asserted (counts, nothing run twice): how long a run lasts
depends on the machine's load and is the benchmark's own verdict (``meets_target``), not
a test's.

The grants benchmark has no such test: beat's production interval (15 s) puts even a
tiny run past a minute and a half."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(script: str, *arguments: str, timeout: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    if env.get("DATABASE_URL"):
        # A database name of its own: the bench creates test_<name> and drops it, which
        # must never be the suite's own test database.
        url = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path}_benchsmoke{os.getpid()}"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--embedded", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_approvals_bench_tracks_every_execution_once():
    # Two executions, one per worker; Proxmox's delete task lasts one second of wall time.
    figures = _run("approvals_bench.py", "--executions", "2", "--task-seconds", "1", timeout=240)
    assert figures["executions"] == 2
    assert figures["succeeded"] == 2
    assert figures["failed"] == 0
    assert figures["still_running"] == 0
    assert figures["delete_tasks_started"] == 2
    assert figures["delete_tasks_per_vm_max"] == 1
    assert figures["nothing_started_twice"] is True
    # Start, poll and ledger are one worker run each, at least: every execution went
    # through the workers step by step, and their logs were read.
    assert figures["advances"] >= 2 * 3
    assert sum(figures["advances_per_worker"]) == figures["advances"]
