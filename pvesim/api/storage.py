"""Storage: ``/storage`` config (section config with digest), per-node status and content.

Listing filters silently by Datastore.Audit/AllocateSpace; guest images additionally need
VM.Audit on their guest unless the caller may allocate on the storage.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import config_value
from pvesim.api.resource_entries import storage_usage
from pvesim.api.router import route
from pvesim.model import Estate
from pvesim.model.config import split_list
from pvesim.model.infra import Storage
from pvesim.model.volumes import parse_volid

_NATIVELY_SHARED = frozenset(
    {"nfs", "cifs", "rbd", "cephfs", "pbs", "iscsi", "iscsidirect", "esxi"}
)
_STRUCTURAL = frozenset({"storage", "type", "content", "nodes", "shared", "digest", "delete"})
_AUDIT = ["Datastore.Audit", "Datastore.AllocateSpace"]


def storage_config_item(estate: Estate, storage: Storage, digest: str) -> dict[str, Any]:
    item: dict[str, Any] = {"storage": storage.storage, "type": storage.type, "digest": digest}
    for key, value in storage.section().items():
        item[key] = int(value) if value in {"0", "1"} and key != "content" else value
    if storage.shared:
        item["shared"] = 1
    return item


@route("GET", "/storage")
def storage_index(ctx: Context) -> list[dict[str, Any]]:
    estate = ctx.cluster.estate
    digest = estate.storage_digest()
    wanted = ctx.params.get("type")
    return [
        storage_config_item(estate, storage, digest)
        for storage in estate.storages.values()
        if (wanted is None or storage.type == wanted)
        and ctx.can(f"/storage/{storage.storage}", _AUDIT, any_=True)
    ]


@route("GET", "/storage/{storage}")
def storage_read(ctx: Context) -> dict[str, Any]:
    ctx.check(f"/storage/{ctx.params['storage']}", ["Datastore.Allocate"])
    estate = ctx.cluster.estate
    return storage_config_item(
        estate, estate.storage(ctx.params["storage"]), estate.storage_digest()
    )


def _apply_options(storage: Storage, ctx: Context) -> None:
    for key, value in ctx.params.items():
        if key in _STRUCTURAL:
            continue
        storage.options[key] = config_value(value)
    if "content" in ctx.params:
        storage.content = split_list(ctx.params["content"])
    if "nodes" in ctx.params:
        storage.nodes = split_list(ctx.params["nodes"]) or None
    if "shared" in ctx.params:
        storage.shared = bool(ctx.params["shared"]) or storage.type in _NATIVELY_SHARED


@route("POST", "/storage")
def storage_create(ctx: Context) -> dict[str, Any]:
    ctx.check("/storage", ["Datastore.Allocate"])
    estate = ctx.cluster.estate
    storage_id = ctx.params["storage"]
    if storage_id in estate.storages:
        raise ApiError(500, f"create storage failed: storage ID '{storage_id}' already defined")
    kind = ctx.params["type"]
    default_content = {"dir": "images,rootdir,iso,vztmpl,backup,snippets", "pbs": "backup"}
    storage = Storage(
        storage_id,
        kind,
        split_list(default_content.get(kind, "images,rootdir")),
        shared=kind in _NATIVELY_SHARED,
    )
    _apply_options(storage, ctx)
    estate.storages[storage_id] = storage
    return {"storage": storage_id, "type": kind}


@route("PUT", "/storage/{storage}")
def storage_update(ctx: Context) -> dict[str, Any]:
    ctx.check("/storage", ["Datastore.Allocate"])
    estate = ctx.cluster.estate
    storage = estate.storage(ctx.params["storage"])
    digest = ctx.params.get("digest")
    if digest and digest != estate.storage_digest():
        raise ApiError(
            500, "detected modified configuration - file changed by other user? Try again."
        )
    for key in split_list(ctx.params.get("delete", "")):
        if key == "nodes":
            storage.nodes = None
        else:
            storage.options.pop(key, None)
    _apply_options(storage, ctx)
    return {"storage": storage.storage, "type": storage.type}


@route("DELETE", "/storage/{storage}")
def storage_delete(ctx: Context) -> None:
    ctx.check("/storage", ["Datastore.Allocate"])
    estate = ctx.cluster.estate
    storage = estate.storage(ctx.params["storage"])
    del estate.storages[storage.storage]
    for key in [k for k in estate.volumes if k[0] == storage.storage]:
        del estate.volumes[key]
    for pool in estate.pools.values():
        if storage.storage in pool.storage:
            pool.storage.remove(storage.storage)
    return None


def _status(ctx: Context, storage: Storage, node: str) -> dict[str, Any]:
    estate = ctx.cluster.estate
    online = estate.nodes[node].online
    active = storage.enabled and storage.available_on(node) and online
    used = storage_usage(estate, ctx.now).get((storage.storage, "" if storage.shared else node), 0)
    item: dict[str, Any] = {
        "storage": storage.storage,
        "type": storage.type,
        "content": ",".join(storage.content),
        "shared": 1 if storage.shared else 0,
        "enabled": 1 if storage.enabled and storage.available_on(node) else 0,
        "active": 1 if active else 0,
    }
    if active:
        item["total"] = storage.capacity
        item["used"] = used
        item["avail"] = max(0, storage.capacity - used)
        item["used_fraction"] = round(used / storage.capacity, 6) if storage.capacity else 0
    return item


@route("GET", "/nodes/{node}/storage")
def node_storage_index(ctx: Context) -> list[dict[str, Any]]:
    node = ctx.params["node"]
    ctx.require_node(node)
    estate = ctx.cluster.estate
    content = set(split_list(ctx.params.get("content", "")))
    items = []
    for storage in estate.storages.values():
        if not ctx.can(f"/storage/{storage.storage}", _AUDIT, any_=True):
            continue
        if not storage.available_on(node):
            continue
        if ctx.params.get("storage") and storage.storage != ctx.params["storage"]:
            continue
        if content and not content & set(storage.content):
            continue
        target = ctx.params.get("target")
        if target and not storage.available_on(target):
            continue
        item = _status(ctx, storage, node)
        if ctx.params.get("enabled") and not item["enabled"]:
            continue
        items.append(item)
    return items


def _node_storage(ctx: Context) -> tuple[str, Storage]:
    node = ctx.params["node"]
    ctx.require_node(node)
    storage = ctx.cluster.estate.storage(ctx.params["storage"])
    ctx.check(f"/storage/{storage.storage}", _AUDIT, any_=True)
    if not storage.available_on(node):
        raise ApiError(500, f"storage '{storage.storage}' is not available on node '{node}'")
    return node, storage


@route("GET", "/nodes/{node}/storage/{storage}/status")
def node_storage_status(ctx: Context) -> dict[str, Any]:
    node, storage = _node_storage(ctx)
    return _status(ctx, storage, node)


@route("GET", "/nodes/{node}/storage/{storage}/content")
def storage_content(ctx: Context) -> list[dict[str, Any]]:
    node, storage = _node_storage(ctx)
    items = ctx.cluster.estate.content(
        storage, node, content=ctx.params.get("content"), vmid=ctx.params.get("vmid")
    )
    if ctx.can(f"/storage/{storage.storage}", ["Datastore.Allocate"]):
        return items
    return [
        item
        for item in items
        if "vmid" not in item or ctx.can(f"/vms/{item['vmid']}", ["VM.Audit"])
    ]


def _find_volume(ctx: Context) -> tuple[str, Storage, dict[str, Any]]:
    node, storage = _node_storage(ctx)
    volume = unquote(ctx.params["volume"])
    volid = volume if ":" in volume else f"{storage.storage}:{volume}"
    for item in ctx.cluster.estate.content(storage, node):
        if item["volid"] == volid:
            return node, storage, item
    raise ApiError(500, f"volume '{volid}' does not exist")


@route("GET", "/nodes/{node}/storage/{storage}/content/{volume}")
def storage_volume(ctx: Context) -> dict[str, Any]:
    _node, storage, item = _find_volume(ctx)
    volname = item["volid"].split(":", 1)[1]
    base = storage.options.get("path", f"/dev/{storage.storage}")
    result = {
        "path": f"{base}/{volname}",
        "size": item["size"],
        "used": item.get("used", item["size"]),
        "format": item["format"],
    }
    if "notes" in item:
        result["notes"] = item["notes"]
    if "protected" in item:
        result["protected"] = item["protected"]
    return result


@route("PUT", "/nodes/{node}/storage/{storage}/content/{volume}")
def storage_volume_update(ctx: Context) -> None:
    node, storage, item = _find_volume(ctx)
    ctx.check(f"/storage/{storage.storage}", ["Datastore.Allocate"])
    stored = next(
        (v for v in ctx.cluster.estate.stored_volumes(storage, node) if v.volid == item["volid"]),
        None,
    )
    if stored is None:
        raise ApiError(500, "volume notes are not supported for this volume type")
    if "notes" in ctx.params:
        stored.notes = ctx.params["notes"]
    if "protected" in ctx.params:
        stored.protected = bool(ctx.params["protected"])
    return None


@route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
def storage_volume_delete(ctx: Context) -> str:
    node, storage, item = _find_volume(ctx)
    volid = item["volid"]
    info = parse_volid(volid)
    estate = ctx.cluster.estate
    if info.vmid is not None and info.content in {"images", "rootdir"}:
        ctx.check(f"/vms/{info.vmid}", ["VM.Config.Disk"])
        guest = estate.guests.get(info.vmid)
        if guest is not None and any(v == volid for _k, v, _p in guest.volumes()):
            raise ApiError(500, f"unable to delete '{volid}' - volume is still in use by a guest")
    else:
        ctx.check(f"/storage/{storage.storage}", ["Datastore.Allocate"])
    if item.get("protected"):
        raise ApiError(500, f"unable to remove '{volid}' - protected backup")

    def remove() -> None:
        estate.remove_volume(volid, node=node)

    return ctx.start_task(
        node=node,
        type="imgdel",
        id="",  # a volid has colons and slashes; PVE starts imgdel without an id
        steps=[(0.5, f"Removed volume '{volid}'")],
        on_done=remove,
    )
