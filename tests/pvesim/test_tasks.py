"""UPID tasks over simulated time, the task endpoints, control knobs and save/load."""

from __future__ import annotations

from pathlib import Path

from proxmoxer.tools import Tasks

from pvesim.cluster import load_state, save_state
from pvesim.tasks import Step, TaskError
from tests.pvesim.conftest import Sim


def _start(sim: Sim, *, steps: list, user: str = "root@pam", type: str = "qmstart", **hooks):  # type: ignore[no-untyped-def]
    with sim.cluster.lock:
        return sim.cluster.tasks.start(
            now=sim.cluster.now(),
            node=sim.first_node(),
            type=type,
            id="100",
            user=user,
            steps=steps,
            **hooks,
        )


def _status(sim: Sim, upid: str) -> dict:  # type: ignore[type-arg]
    return sim.api("GET", f"/nodes/{sim.first_node()}/tasks/{upid}/status").json()["data"]


def test_upid_has_nine_fields_and_decodes(sim: Sim) -> None:
    task = _start(sim, steps=[(1, "x")])
    assert task.upid.endswith(":")
    assert task.upid.count(":") == 8
    decoded = Tasks.decode_upid(task.upid)
    assert decoded["node"] == sim.first_node()
    assert decoded["type"] == "qmstart"
    assert decoded["user"] == "root@pam"


def test_task_runs_over_simulated_time_with_a_growing_log(sim: Sim) -> None:
    applied: list[str] = []
    task = _start(
        sim,
        steps=[(1, "step one"), Step(5, ["step two", "more"], lambda: applied.append("two"))],
        on_done=lambda: applied.append("done"),
    )
    node = sim.first_node()
    assert _status(sim, task.upid)["status"] == "running"
    sim.advance(1)
    log = sim.api("GET", f"/nodes/{node}/tasks/{task.upid}/log")
    assert log.json() == {"data": [{"n": 1, "t": "step one"}], "total": 1}
    assert applied == []
    sim.advance(5)
    status = _status(sim, task.upid)
    assert (status["status"], status["exitstatus"]) == ("stopped", "OK")
    assert applied == ["two", "done"]
    window = sim.api("GET", f"/nodes/{node}/tasks/{task.upid}/log", params={"start": 1, "limit": 2})
    assert window.json() == {
        "data": [{"n": 2, "t": "step two"}, {"n": 3, "t": "more"}],
        "total": 4,
    }
    tail = sim.api("GET", f"/nodes/{node}/tasks/{task.upid}/log", params={"start": 3}).json()
    assert tail["data"] == [{"n": 4, "t": "TASK OK"}]


def test_failing_step_and_fail_next_control(sim: Sim) -> None:
    def boom() -> None:
        raise TaskError("VM 100 already running")

    failures: list[str] = []
    task = _start(sim, steps=[(0, "starting", boom)], on_fail=failures.append)
    sim.advance(0)
    assert _status(sim, task.upid)["exitstatus"] == "VM 100 already running"
    assert failures == ["VM 100 already running"]
    sim.control("POST", "task/fail-next", type="qmstop", message="simulated crash")
    stop = _start(sim, steps=[(1, "stopping")], type="qmstop")
    sim.advance(2)
    log = sim.api("GET", f"/nodes/{sim.first_node()}/tasks/{stop.upid}/log").json()["data"]
    assert log[-1]["t"] == "TASK ERROR: simulated crash"


def test_delete_stops_a_running_task(sim: Sim) -> None:
    task = _start(sim, steps=[(60, "long")])
    response = sim.api("DELETE", f"/nodes/{sim.first_node()}/tasks/{task.upid}")
    assert response.json() == {"data": None}
    assert _status(sim, task.upid)["exitstatus"] == "received interrupt"


def test_unknown_and_malformed_upids(sim: Sim) -> None:
    node = sim.first_node()
    task = _start(sim, steps=[(1, "x")])
    unknown = sim.api(
        "GET", f"/nodes/{node}/tasks/{task.upid.replace(':qmstart:', ':qmstop:')}/status"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"upid": "no such task"}
    malformed = sim.api("GET", f"/nodes/{node}/tasks/UPID:nonsense/status")
    assert malformed.json()["errors"] == {"upid": "unable to parse worker upid"}


def test_only_owner_or_sys_audit_sees_a_task(sim: Sim) -> None:
    sim.api("POST", "/access/users", data={"userid": "dave@pve"})
    secret = sim.api("POST", "/access/users/dave@pve/token/tk", data={"privsep": "0"}).json()[
        "data"
    ]["value"]
    dave = f"PVEAPIToken=dave@pve!tk={secret}"
    root_task = _start(sim, steps=[(1, "x")])
    own_task = _start(sim, steps=[(1, "x")], user="dave@pve!tk")
    node = sim.first_node()
    denied = sim.api("GET", f"/nodes/{node}/tasks/{root_task.upid}/status", auth=dave)
    assert (denied.status_code, denied.reason) == (
        403,
        f"Permission check failed (/nodes/{node}, Sys.Audit)",
    )
    own = sim.api("GET", f"/nodes/{node}/tasks/{own_task.upid}/status", auth=dave).json()["data"]
    assert (own["user"], own["tokenid"]) == ("dave@pve", "tk")
    listed = sim.api("GET", "/cluster/tasks", auth=dave).json()["data"]
    assert [t["upid"] for t in listed] == [own_task.upid]


def test_node_task_list_filters(sim: Sim) -> None:
    node = sim.first_node()
    done = _start(sim, steps=[(1, "x")])
    running = _start(sim, steps=[(100, "x")], type="vzdump")
    sim.advance(2)
    archive = sim.api("GET", f"/nodes/{node}/tasks").json()
    assert [t["upid"] for t in archive["data"]] == [done.upid]
    assert archive["data"][0]["status"] == "OK"
    active = sim.api("GET", f"/nodes/{node}/tasks", params={"source": "active"}).json()["data"]
    assert [t["upid"] for t in active] == [running.upid]
    typed = sim.api("GET", f"/nodes/{node}/tasks", params={"source": "all", "typefilter": "vzdump"})
    assert typed.json()["total"] == 1


def test_node_down_kills_its_tasks_and_shows_offline(sim: Sim) -> None:
    node = sim.first_node()
    task = _start(sim, steps=[(100, "x")])
    sim.control("POST", "node/down", node=node)
    assert _status_via_other_node(sim, node, task.upid) == 595
    assert sim.cluster.tasks.tasks[task.upid].exitstatus == "unexpected status"
    nodes = {n["node"]: n["status"] for n in sim.api("GET", "/nodes").json()["data"]}
    assert nodes[node] == "offline"
    sim.control("POST", "node/up", node=node)
    assert _status(sim, task.upid)["exitstatus"] == "unexpected status"


def _status_via_other_node(sim: Sim, node: str, upid: str) -> int:
    return sim.api("GET", f"/nodes/{node}/tasks/{upid}/status").status_code


def test_save_and_load_round_trip(sim: Sim, tmp_path: Path) -> None:
    done = _start(sim, steps=[(1, "x")])
    running = _start(sim, steps=[(100, "y")])
    sim.advance(2)
    sim.api("POST", "/access/users", data={"userid": "erin@pve", "comment": "kept"})
    path = tmp_path / "state.json"
    save_state(path, [sim.cluster], sim.cluster.clock)
    [cluster], clock = load_state(path)
    assert abs(clock.now() - sim.cluster.now()) < 5
    assert cluster.access.users["erin@pve"].comment == "kept"
    assert cluster.tasks.tasks[done.upid].exitstatus == "OK"
    assert cluster.tasks.tasks[running.upid].exitstatus == "unexpected status"
    assert set(cluster.estate.guests) == set(sim.cluster.estate.guests)
    assert cluster.control_key == sim.cluster.control_key
