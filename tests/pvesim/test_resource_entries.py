"""The memoised /cluster/resources guest entries agree with a fresh build, interval by
interval and change by change (the 10,000-guest fast path must never serve stale data)."""

from __future__ import annotations

import json

from pvesim.api.resource_entries import (
    cached_guest_resource,
    guest_entries,
    guest_resource,
    storage_usage,
)
from pvesim.model import Estate
from pvesim.model.stats import STAT_INTERVAL
from pvesim.scenario import generate

START = 1_700_000_000.0


def _estate() -> Estate:
    return generate("small", seed=3, now=START, clusters=1)[0]


def _check_all(estate: Estate, now: float) -> None:
    cache = guest_entries(estate)
    for guest in estate.guests.values():
        item, fragment = cached_guest_resource(estate, guest, now, cache=cache)
        assert json.loads(fragment) == item
        assert item == guest_resource(estate, guest, now), guest.vmid


def test_entries_match_a_fresh_build_across_intervals() -> None:
    estate = _estate()
    assert any(g.running for g in estate.guests.values())
    for step in range(3):
        _check_all(estate, START + step * STAT_INTERVAL)


def test_usage_moves_on_per_interval_and_stays_within_one() -> None:
    estate = _estate()
    guest = next(g for g in estate.guests.values() if g.running and g.kind == "qemu")
    cache = guest_entries(estate)
    first, _ = cached_guest_resource(estate, guest, START + 1, cache=cache)
    same, _ = cached_guest_resource(estate, guest, START + 5, cache=cache)
    later, _ = cached_guest_resource(estate, guest, START + 2 * STAT_INTERVAL, cache=cache)
    assert same is first
    assert later["uptime"] > first["uptime"]
    assert later["memhost"] == later["mem"]


def test_config_and_state_changes_are_seen_within_the_interval() -> None:
    estate = _estate()
    now = START + 1
    _check_all(estate, now)
    guest = next(g for g in estate.guests.values() if g.running and g.kind == "qemu")
    guest.config["memory"] = "12288"
    guest.config["tags"] = "changed"
    _check_all(estate, now)
    guest.status = "stopped"
    _check_all(estate, now)
    node = estate.nodes[guest.node]
    node.online = False
    _check_all(estate, now)


def test_storage_usage_follows_disk_changes_in_the_next_interval() -> None:
    estate = _estate()
    guest = next(
        g for g in estate.guests.values() if g.kind == "qemu" and "local-lvm:" in g.config["scsi0"]
    )
    before = storage_usage(estate, START)
    guest.config["scsi1"] = f"local-lvm:vm-{guest.vmid}-disk-9,size=10G"
    assert storage_usage(estate, START) is before  # one pvestatd push per interval
    after = storage_usage(estate, START + STAT_INTERVAL)
    key = ("local-lvm", guest.node)
    assert after[key] - before[key] == 10 * 1024**3
