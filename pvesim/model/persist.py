"""JSON round-trip of an :class:`Estate` (``--state FILE`` keeps a demo across restarts)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from pvesim.model.clusterconf import (
    HAGroup,
    HAResource,
    HARule,
    Pool,
    SecurityGroup,
    TagPolicy,
)
from pvesim.model.estate import Estate
from pvesim.model.guest import Guest, GuestFirewall
from pvesim.model.infra import Node, Storage, UsbDevice, Volume

FORMAT_VERSION = 1


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def estate_to_dict(estate: Estate) -> dict[str, Any]:
    """A JSON-serialisable snapshot of the whole estate."""
    guests = []
    for guest in estate.guests.values():
        item = _plain(guest)
        item["firewall"] = asdict(guest.firewall) if guest.firewall is not None else None
        guests.append(item)
    return {
        "format": FORMAT_VERSION,
        "name": estate.name,
        "pve_major": estate.pve_major,
        "nodes": [asdict(node) for node in estate.nodes.values()],
        "storages": [asdict(storage) for storage in estate.storages.values()],
        "guests": guests,
        "pools": [asdict(pool) for pool in estate.pools.values()],
        "volumes": [
            {"storage": key[0], "node": key[1], "items": [asdict(v) for v in vols.values()]}
            for key, vols in estate.volumes.items()
        ],
        "ha_resources": [asdict(r) for r in estate.ha_resources.values()],
        "ha_groups": [asdict(g) for g in estate.ha_groups.values()],
        "ha_rules": [asdict(r) for r in estate.ha_rules.values()],
        "fw_groups": [asdict(g) for g in estate.fw_groups.values()],
        "backup_jobs": estate.backup_jobs,
        "stats_lag": estate.stats_lag,
        "tag_policy": asdict(estate.tag_policy),
    }


def estate_from_dict(data: dict[str, Any]) -> Estate:
    """Inverse of :func:`estate_to_dict`; raises ValueError on an unknown format."""
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported estate format {data.get('format')!r}")
    estate = Estate(name=data["name"], pve_major=data["pve_major"])
    for item in data["nodes"]:
        usb = [UsbDevice(**dev) for dev in item.pop("usb")]
        node = Node(**item, usb=usb)
        estate.nodes[node.name] = node
    for item in data["storages"]:
        storage = Storage(**item)
        estate.storages[storage.storage] = storage
    for item in data["guests"]:
        firewall = item.pop("firewall")
        guest = Guest(**item)
        if firewall is not None:
            guest.firewall = GuestFirewall(**firewall)
        estate.guests[guest.vmid] = guest
    for item in data["pools"]:
        pool = Pool(**item)
        estate.pools[pool.poolid] = pool
    for group in data["volumes"]:
        estate.volumes[(group["storage"], group["node"])] = {
            v["volid"]: Volume(**v) for v in group["items"]
        }
    estate.ha_resources = {r["sid"]: HAResource(**r) for r in data["ha_resources"]}
    estate.ha_groups = {g["group"]: HAGroup(**g) for g in data["ha_groups"]}
    estate.ha_rules = {r["rule"]: HARule(**r) for r in data["ha_rules"]}
    estate.fw_groups = {g["group"]: SecurityGroup(**g) for g in data["fw_groups"]}
    estate.backup_jobs = dict(data["backup_jobs"])
    estate.stats_lag = bool(data.get("stats_lag", False))
    estate.tag_policy = TagPolicy(**data.get("tag_policy", {}))
    return estate
