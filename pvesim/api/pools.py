"""Resource pools (/pools, and the deprecated /pools/{poolid}).

Pool membership lives in the estate (``Pool`` objects, ``Guest.pool``); guests and storages
in a pool inherit the ACLs of ``/pool/<poolid>`` (see :mod:`pvesim.access.evaluate`).
"""

from __future__ import annotations

from typing import Any

from pvesim.api.access import can_modify_perms
from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.router import route
from pvesim.model.clusterconf import Pool
from pvesim.spec.formats import split_list


def _pool(ctx: Context, poolid: str) -> Pool:
    pool = ctx.cluster.estate.pools.get(poolid)
    if pool is None:
        raise ApiError(500, f"pool '{poolid}' does not exist")
    return pool


def _members(ctx: Context, pool: Pool, kind: str | None) -> list[dict[str, Any]]:
    estate = ctx.cluster.estate
    members: list[dict[str, Any]] = []
    for guest in estate.guests.values():
        if guest.pool != pool.poolid or (kind and guest.kind != kind):
            continue
        if not ctx.can(f"/vms/{guest.vmid}", "VM.Audit"):
            continue
        item: dict[str, Any] = {
            "id": f"{guest.kind}/{guest.vmid}",
            "type": guest.kind,
            "vmid": guest.vmid,
            "node": guest.node,
            "name": guest.name,
            "status": guest.status,
            "template": int(guest.is_template),
        }
        members.append(item)
    if kind in (None, "storage"):
        for storage_id in pool.storage:
            storage = estate.storages.get(storage_id)
            if storage is None or not ctx.can(f"/storage/{storage_id}", "Datastore.Audit"):
                continue
            for node in estate.nodes:
                if storage.available_on(node):
                    members.append(
                        {
                            "id": f"storage/{node}/{storage_id}",
                            "type": "storage",
                            "storage": storage_id,
                            "node": node,
                            "plugintype": storage.type,
                            "shared": int(storage.shared),
                            "content": ",".join(storage.content),
                            "status": "available",
                        }
                    )
    return members


@route("GET", "/pools")
def pool_list(ctx: Context) -> list[dict[str, Any]]:
    poolid = ctx.params.get("poolid")
    if poolid is not None:
        ctx.check(f"/pool/{poolid}", "Pool.Audit")
        pool = _pool(ctx, poolid)
        item = _pool_item(pool)
        item["members"] = _members(ctx, pool, ctx.params.get("type"))
        return [item]
    return [
        _pool_item(pool)
        for pool in ctx.cluster.estate.pools.values()
        if ctx.can(f"/pool/{pool.poolid}", "Pool.Audit")
    ]


def _pool_item(pool: Pool) -> dict[str, Any]:
    item: dict[str, Any] = {"poolid": pool.poolid}
    if pool.comment:
        item["comment"] = pool.comment
    return item


@route("GET", "/pools/{poolid}")
def pool_read(ctx: Context) -> dict[str, Any]:
    poolid = ctx.params["poolid"]
    ctx.check(f"/pool/{poolid}", "Pool.Audit")
    pool = _pool(ctx, poolid)
    item: dict[str, Any] = {"members": _members(ctx, pool, ctx.params.get("type"))}
    if pool.comment:
        item["comment"] = pool.comment
    return item


@route("POST", "/pools")
def pool_create(ctx: Context) -> None:
    poolid = ctx.params["poolid"]
    ctx.check(f"/pool/{poolid}", "Pool.Allocate")
    pools = ctx.cluster.estate.pools
    if poolid in pools:
        raise ApiError(500, f"create pool failed: pool '{poolid}' already exists")
    parent = poolid.rpartition("/")[0]
    if parent and parent not in pools:
        raise ApiError(500, f"parent pool '{parent}' does not exist")
    pools[poolid] = Pool(poolid=poolid, comment=ctx.params.get("comment", ""))


@route("PUT", "/pools")
def pool_update(ctx: Context) -> None:
    _update(ctx)


@route("PUT", "/pools/{poolid}")
def pool_update_legacy(ctx: Context) -> None:
    _update(ctx)


def _update(ctx: Context) -> None:
    poolid = ctx.params["poolid"]
    ctx.check(f"/pool/{poolid}", "Pool.Allocate")
    pool = _pool(ctx, poolid)
    estate = ctx.cluster.estate
    delete, allow_move = ctx.get("delete", False), ctx.get("allow-move", False)
    if "comment" in ctx.params:
        pool.comment = ctx.params["comment"]
    for text in split_list(ctx.params.get("vms", "")):
        vmid = int(text)
        if not can_modify_perms(ctx, f"/vms/{vmid}"):
            raise ApiError(403, f"Permission check failed (/vms/{vmid}, Permissions.Modify)")
        guest = estate.guests.get(vmid)
        if delete:
            if guest is None or guest.pool != poolid:
                raise ApiError(500, f"VM {vmid} is not a pool member")
            guest.pool = None
            continue
        if guest is None:
            raise ApiError(500, f"VM {vmid} does not exist")
        if guest.pool == poolid:
            raise ApiError(500, f"VM {vmid} is already a pool member")
        if guest.pool is not None and not allow_move:
            raise ApiError(
                500, f"VM {vmid} belongs already to pool '{guest.pool}' and 'allow-move' is not set"
            )
        guest.pool = poolid
    for storage_id in split_list(ctx.params.get("storage", "")):
        if not can_modify_perms(ctx, f"/storage/{storage_id}"):
            raise ApiError(
                403, f"Permission check failed (/storage/{storage_id}, Permissions.Modify)"
            )
        if delete:
            if storage_id not in pool.storage:
                raise ApiError(500, f"storage '{storage_id}' is not a pool member")
            pool.storage.remove(storage_id)
            continue
        if storage_id not in estate.storages:
            raise ApiError(500, f"no such storage '{storage_id}'")
        if storage_id in pool.storage:
            raise ApiError(500, f"storage '{storage_id}' is already a pool member")
        pool.storage.append(storage_id)


@route("DELETE", "/pools")
def pool_delete(ctx: Context) -> None:
    _delete(ctx)


@route("DELETE", "/pools/{poolid}")
def pool_delete_legacy(ctx: Context) -> None:
    _delete(ctx)


def _delete(ctx: Context) -> None:
    poolid = ctx.params["poolid"]
    ctx.check(f"/pool/{poolid}", "Pool.Allocate")
    pool = _pool(ctx, poolid)
    estate = ctx.cluster.estate
    for guest in estate.guests.values():
        if guest.pool == poolid:
            raise ApiError(500, f"pool '{poolid}' is not empty (contains VM {guest.vmid})")
    if pool.storage:
        raise ApiError(500, f"pool '{poolid}' is not empty (contains storage '{pool.storage[0]}')")
    for child in estate.pools:
        if child.startswith(poolid + "/"):
            raise ApiError(500, f"pool '{poolid}' is not empty (contains pool '{child}')")
    del estate.pools[poolid]
