"""``/cluster/resources`` (nodes, guests, per-node storages, pools, SDN zones) and
``/cluster/nextid``.

Guests need VM.Audit, storages Datastore.Audit/AllocateSpace, pools Pool.Audit; nodes are
always listed but without statistics unless the caller has Sys.Audit on them. Statistics
(and storage usage) change once per pvestatd interval (10 s), like the RRD data PVE serves;
guest entries are memoised in :mod:`pvesim.api.resource_entries`.
"""

from __future__ import annotations

import weakref
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import param_error
from pvesim.api.resource_entries import (
    cached_guest_resource,
    guest_entries,
    guest_resource,
    storage_usage,
)
from pvesim.api.router import route
from pvesim.bodies import EncodedList
from pvesim.model import Estate
from pvesim.model.stats import STAT_INTERVAL, memory_bytes

_LOAD_CACHE: weakref.WeakKeyDictionary[Estate, tuple[int, dict[str, tuple[int, int]]]] = (
    weakref.WeakKeyDictionary()
)


def _node_load(estate: Estate, now: float) -> dict[str, tuple[int, int]]:
    """(running guests, memory they use) per node, in one pass over the guests; a node
    statistic, so computed once per pvestatd interval."""
    bucket = int(now // STAT_INTERVAL)
    cached = _LOAD_CACHE.get(estate)
    if cached is not None and cached[0] == bucket:
        return cached[1]
    load: dict[str, tuple[int, int]] = {}
    for guest in estate.guests.values():
        if guest.running:
            count, mem = load.get(guest.node, (0, 0))
            load[guest.node] = (count + 1, mem + memory_bytes(guest) // 2)
    _LOAD_CACHE[estate] = (bucket, load)
    return load


def _node_resource(
    ctx: Context, estate: Estate, name: str, load: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    node = estate.nodes[name]
    item: dict[str, Any] = {
        "id": f"node/{name}",
        "type": "node",
        "node": name,
        "status": "online" if node.online else "offline",
        "level": "",
    }
    if not ctx.can(f"/nodes/{name}", ["Sys.Audit"]):
        return item
    item["cgroup-mode"] = 2
    item["maxcpu"] = node.maxcpu
    item["maxmem"] = node.maxmem
    item["maxdisk"] = node.maxdisk
    if node.online:
        running, used_mem = load.get(name, (0, 0))
        # As of the last pvestatd push, like every statistic here (and so the body stays
        # byte-identical within an interval, which lets the server reuse its gzip).
        pushed = ctx.now - ctx.now % STAT_INTERVAL
        item["uptime"] = max(0, int(pushed - node.boot_time)) if node.boot_time else 0
        item["cpu"] = round(min(1.0, 0.02 + 0.01 * running / max(1, node.maxcpu)), 4)
        item["mem"] = min(node.maxmem, 4 * 1024**3 + used_mem)
        item["disk"] = node.maxdisk // 5
    else:
        item.update(uptime=0, cpu=0, mem=0, disk=0)
    return item


def _storage_resources(ctx: Context, estate: Estate) -> list[dict[str, Any]]:
    usage = storage_usage(estate, ctx.now)
    items = []
    for storage in estate.storages.values():
        if not storage.enabled:
            continue
        path = f"/storage/{storage.storage}"
        if not ctx.can(path, ["Datastore.Audit", "Datastore.AllocateSpace"], any_=True):
            continue
        for name, node in estate.nodes.items():
            if not storage.available_on(name):
                continue
            used = usage.get((storage.storage, "" if storage.shared else name), 0)
            items.append(
                {
                    "id": f"storage/{name}/{storage.storage}",
                    "type": "storage",
                    "storage": storage.storage,
                    "node": name,
                    "plugintype": storage.type,
                    "status": "available" if node.online else "unknown",
                    "shared": 1 if storage.shared else 0,
                    "content": ",".join(storage.content),
                    "disk": used,
                    "maxdisk": storage.capacity,
                }
            )
    return items


def _pool_resources(ctx: Context, estate: Estate) -> list[dict[str, Any]]:
    return [
        {"id": f"/pool/{poolid}", "type": "pool", "pool": poolid}
        for poolid in estate.pools
        if ctx.can(f"/pool/{poolid}", ["Pool.Audit"])
    ]


def _sdn_resources(estate: Estate) -> list[dict[str, Any]]:
    return [
        {
            "id": f"sdn/{name}/localnetwork",
            "type": "sdn",
            "sdn": "localnetwork",
            "node": name,
            "status": "ok" if node.online else "unknown",
        }
        for name, node in estate.nodes.items()
    ]


@route("GET", "/cluster/resources")
def cluster_resources(ctx: Context) -> list[dict[str, Any]]:
    estate = ctx.cluster.estate
    kind = ctx.params.get("type")
    items = EncodedList()
    if kind in (None, "vm"):
        now = ctx.now
        # One superuser check instead of one evaluation per guest.
        see_all = ctx.cluster.evaluator.is_superuser(ctx.user)
        cache = guest_entries(estate)
        for guest in estate.guests.values():
            if not see_all and not ctx.can(f"/vms/{guest.vmid}", ["VM.Audit"]):
                continue
            if estate.stats_lag:
                # The lagging view depends on when states changed, so it is not memoised.
                items.add(guest_resource(estate, guest, now))
            else:
                items.add(*cached_guest_resource(estate, guest, now, cache=cache))
    if kind in (None, "node"):
        load = _node_load(estate, ctx.now)
        items.extend_items(_node_resource(ctx, estate, name, load) for name in estate.nodes)
    if kind in (None, "storage"):
        items.extend_items(_storage_resources(ctx, estate))
    if kind is None:
        items.extend_items(_pool_resources(ctx, estate))
    if kind in (None, "sdn"):
        items.extend_items(_sdn_resources(estate))
    return items


@route("GET", "/cluster/nextid")
def cluster_nextid(ctx: Context) -> str:
    """The first free vmid (a JSON *string*, as PVE sends it), or assert ``vmid`` is free."""
    estate = ctx.cluster.estate
    vmid = ctx.params.get("vmid")
    if vmid is not None:
        if vmid in estate.guests:
            raise param_error({"vmid": f"VM {vmid} already exists"})
        return str(vmid)
    return str(estate.next_free_vmid())
