"""The live-updates benchmark runs end to end at a tiny size (daphne, real websocket
clients, the SQLite channel layer) and its figures add up. No timing is asserted: how
fast it goes depends on the machine's load and is the benchmark's own verdict."""

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


def test_live_bench_delivers_every_clusters_final_state_to_every_client(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env["BENCH_RESULTS_DIR"] = str(tmp_path)
    if env.get("DATABASE_URL"):
        # A database of its own: the bench creates test_<name> and drops it afterwards.
        url = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path}_livesmoke{os.getpid()}"))
    arguments = ["--embedded", "--clients", "3", "--changes", "60", "--targets", "2"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "live_bench.py"), *arguments, "--batch", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["clients"] == 3
    assert figures["events_published"] == 6
    # Every client saw every event it measures: 6 events x 3 clients.
    assert figures["deliveries_measured"] == 18
    assert figures["undetected_gaps"] == 0
    assert figures["detected_losses"] == 0
    # Each frame is numbered; how many it takes depends on the pace of the machine.
    assert 1 <= figures["frames_per_client_max"] <= 6
    assert figures["channel_layer"] == "sqlite"
