"""Control API ``corrupt``: spoiled answers for client robustness tests, counted and scoped."""

import json

import pytest


def test_truncate_spoils_only_matching_answers_and_only_count_times(sim):
    sim.control("POST", "corrupt", mode="truncate", prefix="/cluster/resources", count=1)
    assert sim.api("GET", "/version").json()["data"]["release"]
    spoiled = sim.api("GET", "/cluster/resources")
    assert spoiled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(spoiled.content)
    assert sim.api("GET", "/cluster/resources").json()["data"]


def test_garbage_until_cleared(sim):
    sim.control("POST", "corrupt", mode="garbage", prefix="/nodes", count=-1)
    node = sim.first_node()
    for _ in range(2):
        assert sim.api("GET", f"/nodes/{node}/status").content.startswith(b"<html>")
    sim.control("POST", "corrupt/clear")
    assert sim.api("GET", f"/nodes/{node}/status").json()["data"]


def test_duplicate_guest_lists_one_vmid_on_two_nodes(sim):
    sim.control("POST", "corrupt", mode="duplicate-guest", prefix="/cluster/resources")
    items = sim.api("GET", "/cluster/resources").json()["data"]
    guests = [i for i in items if i.get("type") in ("qemu", "lxc")]
    vmids = [g["vmid"] for g in guests]
    (twice,) = [v for v in set(vmids) if vmids.count(v) == 2]
    assert len({g["node"] for g in guests if g["vmid"] == twice}) == 2
    assert len(guests) == len(sim.cluster.estate.guests) + 1


def test_unknown_mode_is_refused(sim):
    response = sim.session.post(
        f"{sim.url}/_sim/corrupt",
        json={"mode": "explode"},
        headers={"X-Pvesim-Key": sim.cluster.control_key},
        verify=str(sim.server.certificate.cert_file),
    )
    assert response.status_code == 400
    assert "mode must be one of" in response.json()["error"]
