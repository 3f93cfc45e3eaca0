"""pvesim benchmarks: start-up, /cluster/resources at 10,000 guests, keep-alive config GETs
on one core, resident memory at 10,000 and 100,000 guests.

Targets (issue 3): resources < 150 ms; config GETs >= 500 req/s with median < 5 ms with the
server pinned to one core; start well under a second. Prints one JSON object (and writes
``bench/results/pvesim.json`` when run standalone).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Served:
    """A ``python -m pvesim serve`` subprocess, optionally pinned to one CPU."""

    def __init__(self, *args: str, cpu: int | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pvesim-bench-"))
        self.info_file = self.dir / "info.json"
        command = [sys.executable, "-m", "pvesim", "serve", "--port", "0", "--auth-delay", "0"]
        command += ["--info", str(self.info_file), *args]
        started = time.monotonic()

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin
        )
        while not self.info_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError("pvesim exited early")
            time.sleep(0.005)
        self.startup = time.monotonic() - started
        self.clusters = json.loads(self.info_file.read_text())["clusters"]

    def connection(self, index: int = 0) -> http.client.HTTPSConnection:
        info = self.clusters[index]
        tls = ssl.create_default_context(cafile=info["ca_file"])
        return http.client.HTTPSConnection(info["host"], info["port"], context=tls, timeout=60)

    def headers(self, index: int = 0, **extra: str) -> dict[str, str]:
        info = self.clusters[index]
        return {"Authorization": f"PVEAPIToken={info['token_id']}={info['token_secret']}", **extra}

    def get(
        self, connection: http.client.HTTPSConnection, path: str, index: int = 0, **headers: str
    ) -> tuple[int, bytes]:
        connection.request("GET", "/api2/json" + path, headers=self.headers(index, **headers))
        response = connection.getresponse()
        return response.status, response.read()

    def control(
        self, connection: http.client.HTTPSConnection, name: str, index: int = 0, **body: Any
    ) -> None:
        key = self.clusters[index]["control_key"]
        headers = {"X-Pvesim-Key": key, "Content-Type": "application/json"}
        connection.request("POST", f"/_sim/{name}", body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"control {name}: {response.status}")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def wait_built(self) -> None:
        """Touch every cluster (the control state reads the estate, building it)."""
        for index, info in enumerate(self.clusters):
            connection = self.connection(index)
            connection.request("GET", "/_sim/state", headers={"X-Pvesim-Key": info["control_key"]})
            connection.getresponse().read()
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def bench_startup() -> dict[str, Any]:
    served = Served("--scenario", "demo")
    try:
        return {"demo_listening_s": round(served.startup, 3), "clusters": len(served.clusters)}
    finally:
        served.stop()


def bench_10k() -> dict[str, Any]:
    served = Served("--scenario", "large", "--clusters", "1", "--guests", "10000", cpu=0)
    try:
        served.wait_built()
        result: dict[str, Any] = {"rss_mib_10k": served.rss_mib()}
        connection = served.connection()
        timings = []
        size = 0
        for _ in range(25):
            started = time.perf_counter()
            status, body = served.get(
                connection, "/cluster/resources", **{"Accept-Encoding": "gzip"}
            )
            timings.append(time.perf_counter() - started)
            size = len(body)
        result["resources_10k"] = {"status": status, "bytes_gzip": size, **_ms(timings)}
        timings = []
        for _ in range(10):
            started = time.perf_counter()
            status, body = served.get(connection, "/cluster/resources")
            timings.append(time.perf_counter() - started)
        result["resources_10k_identity"] = {"status": status, "bytes": len(body), **_ms(timings)}
        timings = []
        for _ in range(10):
            served.control(connection, "time/advance", seconds=10)  # a fresh pvestatd interval
            started = time.perf_counter()
            status, body = served.get(
                connection, "/cluster/resources", **{"Accept-Encoding": "gzip"}
            )
            timings.append(time.perf_counter() - started)
        result["resources_10k_new_interval"] = {"status": status, **_ms(timings)}
        status, body = served.get(connection, "/cluster/resources?type=vm")
        guests = list(json.loads(body)["data"]) if status == 200 else []
        result["resources_10k"]["guests"] = len(guests)
        target = next((g for g in guests if g["type"] == "qemu"), None)
        path = f"/nodes/{target['node']}/qemu/{target['vmid']}/config" if target else "/version"
        result["config_get"] = _requests_per_second(served, path)
        result["rss_mib_10k_after"] = served.rss_mib()
        return result
    finally:
        served.stop()


def _requests_per_second(served: Served, path: str, seconds: float = 4.0) -> dict[str, Any]:
    connection = served.connection()
    status, _ = served.get(connection, path)
    timings = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        served.get(connection, path)
        timings.append(time.perf_counter() - started)
    return {
        "path": path,
        "status": status,
        "server_cpus": 1,
        "requests": len(timings),
        "requests_per_s": round(len(timings) / sum(timings), 1),
        **_ms(timings),
    }


def bench_100k() -> dict[str, Any]:
    served = Served("--scenario", "large", "--guests", "100000")
    try:
        started = time.monotonic()
        served.wait_built()
        return {
            "clusters": len(served.clusters),
            "build_s": round(time.monotonic() - started, 2),
            "rss_mib_100k": served.rss_mib(),
        }
    finally:
        served.stop()


def main() -> None:
    results: dict[str, Any] = {"startup": bench_startup()}
    results.update(bench_10k())
    results["large_100k"] = bench_100k()
    resources = results["resources_10k"]
    fresh = results["resources_10k_new_interval"]
    config = results["config_get"]
    results["targets"] = {
        "resources_10k_under_150ms": resources["status"] == 200 and resources["p95_ms"] < 150,
        "resources_10k_new_interval_under_150ms": fresh["median_ms"] < 150,
        "config_500_rps_one_core": config["requests_per_s"] >= 500,
        "config_median_under_5ms": config["median_ms"] < 5,
        "start_under_1s": results["startup"]["demo_listening_s"] < 1,
    }
    text = json.dumps(results)
    if "BENCH_RESULTS_DIR" not in os.environ:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "pvesim.json").write_text(json.dumps(results, indent=2))
    print(text)


if __name__ == "__main__":
    main()
