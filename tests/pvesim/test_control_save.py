"""``POST /_sim/save`` on several clusters of one process at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from pvesim import control
from pvesim.cluster import load_state, save_state
from tests.pvesim.conftest import Sim


@pytest.fixture
def save_hooks() -> Iterator[list[Callable[[], object]]]:
    """The process's save hooks, emptied for the test and restored after it."""
    saved = list(control.SAVE_HOOKS)
    control.SAVE_HOOKS.clear()
    yield control.SAVE_HOOKS
    control.SAVE_HOOKS[:] = saved


def _save(sim: Sim) -> int:
    response = requests.post(
        f"{sim.url}/_sim/save",
        headers={"X-Pvesim-Key": sim.cluster.control_key},
        verify=str(sim.server.certificate.cert_file),
        timeout=15,
    )
    return response.status_code


def test_two_simultaneous_saves_from_two_clusters_both_finish(
    make_sim: Callable[..., Sim], save_hooks: list, tmp_path: Path
) -> None:
    alpha, bravo = make_sim(seed=1), make_sim(seed=2)
    path = tmp_path / "state.json"
    # Both requests are inside the action before either saves: if an action held its own
    # cluster's lock while snapshotting the other cluster, this would deadlock.
    both_inside = threading.Barrier(2, timeout=10)

    def save() -> None:
        both_inside.wait()
        save_state(path, [alpha.cluster, bravo.cluster], alpha.cluster.clock)

    save_hooks.append(save)
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(_save, [alpha, bravo]))
    assert statuses == [200, 200]
    clusters, _ = load_state(path)
    assert [len(c.estate.guests) for c in clusters] == [
        len(alpha.cluster.estate.guests),
        len(bravo.cluster.estate.guests),
    ]


def test_save_snapshots_each_cluster_while_it_keeps_changing(sim: Sim, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    stop = threading.Event()

    def churn() -> None:
        guest = next(iter(sim.cluster.estate.guests.values()))
        n = 0
        while not stop.is_set():
            with sim.cluster.lock:
                guest.config[f"unused{n % 200}"] = f"local:{n}"
                guest.config.pop(f"unused{(n + 100) % 200}", None)
            n += 1

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(5):
            save_state(path, [sim.cluster], sim.cluster.clock)
            assert json.loads(path.read_text())["format"] == 1
    finally:
        stop.set()
        worker.join()


def test_save_without_state_file_is_refused(sim: Sim, save_hooks: list) -> None:
    assert _save(sim) == 400
