"""The benchmark runner behind ``make bench``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
bench_run = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = bench_run
_spec.loader.exec_module(bench_run)


def test_last_json_object_skips_progress_lines():
    assert bench_run.last_json_object('progress 1\n{"ops": 3}\n') == {"ops": 3}
    assert bench_run.last_json_object('{\n "ops": 3\n}\n') == {"ops": 3}
    assert bench_run.last_json_object("no figures\n[1, 2]\n") is None


def test_discover_filters_by_name(tmp_path):
    for name in ("a_bench.py", "b_bench.py", "helper.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in bench_run.discover([], bench_dir=tmp_path)] == [
        "a_bench.py",
        "b_bench.py",
    ]
    assert [p.name for p in bench_run.discover(["b"], bench_dir=tmp_path)] == ["b_bench.py"]


def test_run_one_records_figures_and_failures(tmp_path):
    good = tmp_path / "good_bench.py"
    good.write_text('print("warming up")\nprint(\'{"requests_per_s": 1234.5}\')\n')
    record = bench_run.run_one(good, timeout=60, results_dir=tmp_path)
    assert record["ok"] is True
    assert record["name"] == "good"
    assert record["result"] == {"requests_per_s": 1234.5}

    bad = tmp_path / "bad_bench.py"
    bad.write_text("import sys\nsys.exit('boom')\n")
    record = bench_run.run_one(bad, timeout=60, results_dir=tmp_path)
    assert record["ok"] is False
    assert record["returncode"] == 1
    assert record["stderr_tail"] == ["boom"]

    slow = tmp_path / "slow_bench.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    record = bench_run.run_one(slow, timeout=0.5, results_dir=tmp_path)
    assert record["ok"] is False
    assert record["returncode"] == -1
