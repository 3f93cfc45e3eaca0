"""Guest entries of ``/cluster/resources`` and storage usage, memoised for 10,000 guests.

What an entry shows splits in two: what follows from the guest's config and state (name,
limits, lock, tags, pool, HA state; seen at once after any change, as PVE reads them live)
and the usage figures of a running guest (cpu, mem, uptime, I/O counters), which pvestatd
pushes every ``STAT_INTERVAL`` seconds. Each guest's entry keeps a copy of the config and a
state fingerprint it was derived from and is rebuilt only when one of them differs; the
usage figures are recomputed once per interval and spliced into the entry's JSON, so a
read in a fresh interval costs arithmetic rather than config parsing.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from pvesim.bodies import encode
from pvesim.model import Estate, Guest
from pvesim.model.stats import STAT_INTERVAL, guest_stats, guest_usage
from pvesim.model.volumes import split_volid


@dataclass(slots=True)
class _Entry:
    """One guest's memo. Invariant: ``fragment == encode(item)``; ``item`` is never mutated
    once handed out (a new dict replaces it)."""

    state: tuple[Any, ...]
    config: dict[str, str]
    base_json: bytes
    """The entry without usage figures, encoded."""
    live: bool
    """Running on an online node: usage figures change every interval."""
    item: dict[str, Any]
    fragment: bytes
    bucket: int = -1
    volumes: list[tuple[str, int]] | None = None
    """(storage id, bytes) of every volume the config references, for storage usage."""


_ENTRIES: weakref.WeakKeyDictionary[Estate, dict[int, _Entry]] = weakref.WeakKeyDictionary()
_USAGE: weakref.WeakKeyDictionary[Estate, tuple[int, dict[tuple[str, str], int]]] = (
    weakref.WeakKeyDictionary()
)


def _entries(estate: Estate) -> dict[int, _Entry]:
    cache = _ENTRIES.setdefault(estate, {})
    if len(cache) > 2 * len(estate.guests) + 100:
        cache.clear()  # destroyed guests leave entries behind; start over now and then
    return cache


def _entry(estate: Estate, guest: Guest, now: float, cache: dict[int, _Entry]) -> _Entry:
    """The guest's memo, rebuilt when its config or state moved on."""
    node = estate.nodes.get(guest.node)
    online = node is not None and node.online
    resource = estate.ha_resource(guest)
    state = (
        guest.status,
        guest.paused,
        guest.node,
        online,
        guest.pool,
        guest.started_at,
        resource.crm_state if resource is not None else None,
        estate.stats_lag,  # the lagging view is never served from here, but storage usage
    )  # builds entries under it too
    entry = cache.get(guest.vmid)
    # Dict equality runs in C without building a tuple of the config per guest and read.
    if entry is not None and entry.state == state and entry.config == guest.config:
        return entry
    live = online and guest.running
    base = guest_resource(estate, guest, now, usage=not live)
    base_json = encode(base)
    entry = _Entry(state, dict(guest.config), base_json, live, base, base_json)
    cache[guest.vmid] = entry
    return entry


def cached_guest_resource(
    estate: Estate, guest: Guest, now: float, *, cache: dict[int, _Entry]
) -> tuple[dict[str, Any], bytes]:
    """``guest_resource`` and its JSON. Callers must not mutate the item."""
    entry = _entry(estate, guest, now, cache)
    bucket = int(now // STAT_INTERVAL)
    if entry.live and entry.bucket != bucket:
        item = entry.item
        usage = guest_usage(guest, now, maxmem=item["maxmem"], maxdisk=item["maxdisk"])
        if guest.kind == "qemu":
            usage["memhost"] = usage["mem"]
        # Usage keys follow the base keys in both the dict and the JSON, in the same order.
        entry.item = {**item, **usage}
        entry.fragment = entry.base_json[:-1] + b"," + _members(usage) + b"}"
        entry.bucket = bucket
    return entry.item, entry.fragment


def _members(usage: dict[str, int | float]) -> bytes:
    """``encode(usage)`` without its braces, in ``guest_usage``'s key order, three times as
    fast as ``json`` for these flat finite numbers (a float's repr is what ``json`` writes).
    It runs for every running guest in every interval."""
    text = (
        f'"cpu":{usage["cpu"]!r},"mem":{usage["mem"]},"disk":{usage["disk"]},'
        f'"uptime":{usage["uptime"]},"netin":{usage["netin"]},"netout":{usage["netout"]},'
        f'"diskread":{usage["diskread"]},"diskwrite":{usage["diskwrite"]}'
    )
    if "memhost" in usage:
        text += f',"memhost":{usage["memhost"]}'
    return text.encode()


def guest_entries(estate: Estate) -> dict[int, _Entry]:
    """The memo :func:`cached_guest_resource` takes as ``cache``."""
    return _entries(estate)


def guest_resource(
    estate: Estate, guest: Guest, now: float, *, usage: bool = True
) -> dict[str, Any]:
    """One qemu/lxc entry. Guests on an offline node have no fresh stats (``unknown``);
    with ``estate.stats_lag`` the power state is the one of the last pvestatd push, and a
    guest created since then is ``unknown`` without name or limits. ``lock``, ``tags``,
    ``node`` and ``pool`` always come live from the config, as in PVE. Without ``usage``
    a running guest's entry stops at its limits (the memo adds the figures)."""
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
            stats = guest_stats(guest, now)
            if usage or not guest.running:
                item.update(stats)
                if guest.kind == "qemu":
                    item["memhost"] = item["mem"]
            else:
                for key in ("maxmem", "maxcpu", "maxdisk"):
                    item[key] = stats[key]
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


# ---- storage usage -------------------------------------------------------------------------


def storage_usage(estate: Estate, now: float) -> dict[tuple[str, str], int]:
    """Used bytes per (storage, node), shared storages under node ``""``; recomputed once
    per pvestatd interval from each guest's memoised volume list."""
    bucket = int(now // STAT_INTERVAL)
    cached = _USAGE.get(estate)
    if cached is not None and cached[0] == bucket:
        return cached[1]
    usage: dict[tuple[str, str], int] = {}
    storages = estate.storages
    for (storage_id, node), volumes in estate.volumes.items():
        usage[(storage_id, node)] = usage.get((storage_id, node), 0) + sum(
            v.size for v in volumes.values()
        )
    cache = _entries(estate)
    for guest in estate.guests.values():
        entry = cache.get(guest.vmid)
        # Volumes follow from the config alone, so a state change needs no new entry here.
        if entry is None or entry.config != guest.config:
            entry = _entry(estate, guest, now, cache)
        if entry.volumes is None:
            entry.volumes = _guest_volumes(guest)
        for storage_id, size in entry.volumes:
            storage = storages.get(storage_id)
            if storage is None:
                continue
            key = (storage_id, "" if storage.shared else guest.node)
            usage[key] = usage.get(key, 0) + size
    _USAGE[estate] = (bucket, usage)
    return usage


def _guest_volumes(guest: Guest) -> list[tuple[str, int]]:
    return [
        (split_volid(volid)[0], _size(parsed.get("size")))
        for _key, volid, parsed in guest.volumes()
        if ":" in volid
    ]


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
