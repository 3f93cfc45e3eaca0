"""``/cluster/resources`` (nodes, guests, per-node storages, pools, SDN zones) and
``/cluster/nextid``.

Guests need VM.Audit, storages Datastore.Audit/AllocateSpace, pools Pool.Audit; nodes are
always listed but without statistics unless the caller has Sys.Audit on them. Storage usage
is recomputed once per pvestatd interval (10 s), like the RRD data PVE serves.
"""

from __future__ import annotations

import weakref
from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import param_error
from pvesim.api.router import route
from pvesim.model import Estate, Guest
from pvesim.model.stats import STAT_INTERVAL, guest_stats, memory_bytes
from pvesim.model.volumes import split_volid

_USAGE_CACHE: weakref.WeakKeyDictionary[Estate, tuple[int, dict[tuple[str, str], int]]] = (
    weakref.WeakKeyDictionary()
)


def storage_usage(estate: Estate, now: float) -> dict[tuple[str, str], int]:
    """Used bytes per (storage, node) — shared storages under node ``""`` — in one pass."""
    bucket = int(now // STAT_INTERVAL)
    cached = _USAGE_CACHE.get(estate)
    if cached is not None and cached[0] == bucket:
        return cached[1]
    usage: dict[tuple[str, str], int] = {}
    storages = estate.storages
    for (storage_id, node), volumes in estate.volumes.items():
        usage[(storage_id, node)] = usage.get((storage_id, node), 0) + sum(
            v.size for v in volumes.values()
        )
    for guest in estate.guests.values():
        for _key, volid, parsed in guest.volumes():
            storage = storages.get(split_volid(volid)[0]) if ":" in volid else None
            if storage is None:
                continue
            key = (storage.storage, "" if storage.shared else guest.node)
            usage[key] = usage.get(key, 0) + _size(parsed.get("size"))
    _USAGE_CACHE[estate] = (bucket, usage)
    return usage


def _size(text: str | None) -> int:
    if not text:
        return 0
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    factor = units.get(text[-1], 1)
    digits = text[:-1] if text[-1] in units else text
    try:
        return int(float(digits) * factor)
    except ValueError:
        return 0


_ITEM_CACHE: weakref.WeakKeyDictionary[
    Estate, dict[int, tuple[tuple[Any, ...], dict[str, Any]]]
] = weakref.WeakKeyDictionary()


def cached_guest_resource(estate: Estate, guest: Guest, now: float) -> dict[str, Any]:
    """``guest_resource`` memoised per pvestatd interval.

    The fingerprint holds everything an entry is derived from (the whole config, power
    state, placement, pool, HA state), so any change is seen at once; only the statistics
    are frozen for the interval, as PVE's RRD data is. Callers must not mutate the item.
    """
    node = estate.nodes.get(guest.node)
    resource = estate.ha_resource(guest)
    fingerprint = (
        int(now // STAT_INTERVAL),
        guest.status,
        guest.paused,
        guest.node,
        node is not None and node.online,
        guest.pool,
        guest.started_at,
        resource.crm_state if resource is not None else None,
        tuple(guest.config.items()),
    )
    cache = _ITEM_CACHE.setdefault(estate, {})
    if len(cache) > 2 * len(estate.guests) + 100:
        cache.clear()  # destroyed guests leave entries behind; start over now and then
    hit = cache.get(guest.vmid)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    item = guest_resource(estate, guest, now)
    cache[guest.vmid] = (fingerprint, item)
    return item


def guest_resource(estate: Estate, guest: Guest, now: float) -> dict[str, Any]:
    """One qemu/lxc entry. Guests on an offline node have no fresh stats (``unknown``);
    with ``estate.stats_lag`` the power state is the one of the last pvestatd push, and a
    guest created since then is ``unknown`` without name or limits. ``lock``, ``tags``,
    ``node`` and ``pool`` always come live from the config, as in PVE."""
    item: dict[str, Any] = {
        "id": f"{guest.kind}/{guest.vmid}",
        "type": guest.kind,
        "vmid": guest.vmid,
        "node": guest.node,
        "template": 1 if guest.is_template else 0,
    }
    node = estate.nodes.get(guest.node)
    lagging = estate.stats_lag and guest.status_changed_at > now - now % STAT_INTERVAL
    if lagging and guest.previous_status == "unknown":
        item["status"] = "unknown"
    else:
        item["name"] = guest.name
        if (node is not None and not node.online) or lagging:
            item["status"] = guest.previous_status if lagging else "unknown"
            stats = guest_stats(guest, now)
            for key in ("maxcpu", "maxmem", "maxdisk"):
                item[key] = stats[key]
        else:
            item["status"] = guest.status
            guest_stats(guest, now, into=item)
            if guest.kind == "qemu":
                item["memhost"] = item["mem"]
    if lock := guest.config.get("lock"):
        item["lock"] = lock
    if tags := guest.config.get("tags"):
        item["tags"] = tags
    if guest.pool:
        item["pool"] = guest.pool
    resource = estate.ha_resource(guest)
    if resource is not None:
        item["hastate"] = resource.crm_state
    return item


def _node_load(estate: Estate) -> dict[str, tuple[int, int]]:
    """(running guests, memory they use) per node, in one pass over the guests."""
    load: dict[str, tuple[int, int]] = {}
    for guest in estate.guests.values():
        if guest.running:
            count, mem = load.get(guest.node, (0, 0))
            load[guest.node] = (count + 1, mem + memory_bytes(guest) // 2)
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
        item["uptime"] = int(ctx.now - node.boot_time) if node.boot_time else 0
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
    items: list[dict[str, Any]] = []
    if kind in (None, "vm"):
        now = ctx.now
        # The stats-lag view depends on when states changed, so it is never memoised.
        build = guest_resource if estate.stats_lag else cached_guest_resource
        for guest in estate.guests.values():
            if ctx.can(f"/vms/{guest.vmid}", ["VM.Audit"]):
                items.append(build(estate, guest, now))
    if kind in (None, "node"):
        load = _node_load(estate)
        items.extend(_node_resource(ctx, estate, name, load) for name in estate.nodes)
    if kind in (None, "storage"):
        items.extend(_storage_resources(ctx, estate))
    if kind is None:
        items.extend(_pool_resources(ctx, estate))
    if kind in (None, "sdn"):
        items.extend(_sdn_resources(estate))
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
