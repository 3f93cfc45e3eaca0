"""The seeded scenario generator: determinism, realism markers, scale and persistence."""

import json
import time

import pytest

from pvesim.model import estate_from_dict, estate_to_dict
from pvesim.scenario import generate, scenario_plan

NOW = 1_780_000_000.0


@pytest.fixture(scope="module")
def demo():
    return generate("demo", seed=7, now=NOW)


def test_demo_shape(demo):
    assert len(demo) == 2
    assert sum(len(e.nodes) for e in demo) == 8
    assert sum(len(e.guests) for e in demo) == 200
    assert {e.pve_major for e in demo} == {8, 9}


def test_same_seed_same_estate_and_different_seed_differs(demo):
    again = generate("demo", seed=7, now=NOW)
    assert estate_to_dict(again[0]) == estate_to_dict(demo[0])
    other = generate("demo", seed=8, now=NOW)
    assert estate_to_dict(other[0]) != estate_to_dict(demo[0])


def test_demo_contains_the_governance_relevant_features(demo):
    guests = [g for e in demo for g in e.guests.values()]
    configs = [g.config for g in guests]
    assert any(g.is_template for g in guests)
    assert any(":base-" in c.get("scsi0", "") and "/vm-" in c.get("scsi0", "") for c in configs)
    assert any("usb0" in c or "serial0" in c or "hostpci0" in c for c in configs)
    assert any(".iso" in c.get("ide2", "") for c in configs)
    assert any(g.sensitive for g in guests)
    assert any(g.snapshots for g in guests)
    assert any("vmstate" in s for g in guests for s in g.snapshots.values())
    assert any(g.kind == "lxc" for g in guests)
    assert any(g.running for g in guests)
    assert {c.get("ostype") for c in configs} >= {"l26", "win11", "debian"}
    assert any(g.agent_installed for g in guests)
    first = demo[0]
    usb = first.storages["usb-backup"]
    assert usb.type == "dir"
    assert usb.nodes == [next(iter(first.nodes))]
    assert first.content(usb, usb.nodes[0], content="backup")
    nine, eight = demo
    assert nine.ha_rules
    assert not nine.ha_groups
    assert eight.ha_groups
    assert not eight.ha_rules
    assert all(r.group == "prefer-first" for r in eight.ha_resources.values() if r.group)


def test_some_large_clusters_have_only_local_storage():
    plans = scenario_plan("large", seed=1, guests=400, clusters=4)
    assert "ceph-rbd" not in plans[3].build(now=NOW).storages


def test_state_round_trips_through_json(demo):
    data = json.loads(json.dumps(estate_to_dict(demo[0])))
    restored = estate_from_dict(data)
    assert estate_to_dict(restored) == estate_to_dict(demo[0])
    vm = next(iter(restored.guests.values()))
    assert vm.digest() == demo[0].guests[vm.vmid].digest()


def test_large_plan_splits_guests_and_builds_fast():
    plans = scenario_plan("large", seed=1, guests=20_000)
    assert sum(p.guests for p in plans) == 20_000
    assert len(plans) == 4
    started = time.perf_counter()
    estate = plans[0].build(now=NOW)
    assert len(estate.guests) == 5000
    assert time.perf_counter() - started < 2.0


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_plan("huge")
