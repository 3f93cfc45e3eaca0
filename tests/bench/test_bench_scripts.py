"""The approvals benchmark runs end to end at a tiny size and prints figures that meet
its target (real Celery worker processes, pvesim over HTTPS, a scratch database).

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


def test_approvals_bench_tracks_every_execution_once_without_blocking():
    figures = _run("approvals_bench.py", "--executions", "3", "--task-seconds", "4", timeout=240)
    assert figures["succeeded"] == 3
    assert figures["failed"] == 0
    assert figures["delete_tasks_started"] == 3
    assert figures["delete_tasks_per_vm_max"] == 1
    # Start, poll, ledger is 3 runs each: more means a poll found a task still running
    # and came back later instead of waiting; no run lasts anywhere near a task (4 s).
    assert figures["advances"] > 3 * 3
    assert figures["advance_max_ms"] < 1000
    assert figures["meets_target"] is True
