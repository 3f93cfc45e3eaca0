"""Run every benchmark script ``bench/*_bench.py`` and collect results under ``bench/results/``.

Usage: ``python bench/run.py [NAME ...] [--timeout SECONDS]`` (``make bench`` runs all).

Contract for a benchmark script: it runs standalone (``python bench/x_bench.py``) and
prints its figures as one JSON object on standard output (the last line that parses
as JSON wins, so progress lines before it are fine). ``BENCH_RESULTS_DIR`` in its
environment names the folder if it wants to leave more files. For each script this
runner writes ``bench/results/<name>.json``: the parsed figures plus the command, exit
code, wall time, machine and commit, so results from different runs can be compared.
Exits non-zero when any benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


def discover(names: list[str], *, bench_dir: Path = BENCH_DIR) -> list[Path]:
    scripts = sorted(bench_dir.glob("*_bench.py"))
    if names:
        wanted = {name.removesuffix(".py").removesuffix("_bench") for name in names}
        scripts = [s for s in scripts if s.stem.removesuffix("_bench") in wanted]
    return scripts


def last_json_object(stdout: str) -> dict[str, Any] | None:
    try:
        whole = json.loads(stdout)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return whole
    for line in reversed(stdout.splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  (git from PATH)
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def run_one(script: Path, *, timeout: float, results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    command = [sys.executable, str(script)]
    environ = {**os.environ, "BENCH_RESULTS_DIR": str(results_dir), "PYTHONUNBUFFERED": "1"}
    started = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        result = subprocess.run(  # noqa: S603  (our own scripts)
            command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
        )
        returncode, stdout, stderr = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        raw = exc.stdout or b""  # bytes even with text=True on some Python versions
        stdout = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        stderr = f"timed out after {timeout:.0f}s"
    figures = last_json_object(stdout)
    return {
        "name": script.stem.removesuffix("_bench"),
        "command": " ".join(command),
        "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - clock, 3),
        "returncode": returncode,
        "ok": returncode == 0 and figures is not None,
        "result": figures,
        "stderr_tail": stderr.splitlines()[-20:],
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "commit": commit(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    args = parser.parse_args(argv)

    scripts = discover(args.names)
    if not scripts:
        print("bench: no benchmark scripts (bench/*_bench.py) found")
        return 0 if not args.names else 1
    RESULTS_DIR.mkdir(exist_ok=True)
    failed = []
    for script in scripts:
        print(f"bench: {script.name} ...", flush=True)
        record = run_one(script, timeout=args.timeout)
        out = RESULTS_DIR / f"{record['name']}.json"
        out.write_text(json.dumps(record, indent=2) + "\n")
        status = "ok" if record["ok"] else f"FAILED (exit {record['returncode']})"
        print(
            f"bench: {script.name} {status} in {record['wall_seconds']}s -> {out.relative_to(ROOT)}"
        )
        if record["ok"]:
            print(json.dumps(record["result"], indent=2))
        else:
            failed.append(script.name)
            print("\n".join(record["stderr_tail"]), file=sys.stderr)
    if failed:
        print(f"bench: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
