"""``GET /nodes/{node}/storage/{storage}/import-metadata``: how to create a guest from an
appliance on an import storage (``model/appliances.py``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pvesim.api.context import Context
from pvesim.api.router import route
from pvesim.api.storage import _node_storage
from pvesim.model.appliances import import_metadata


@route("GET", "/nodes/{node}/storage/{storage}/import-metadata")
def storage_import_metadata(ctx: Context) -> dict[str, Any]:
    node, storage = _node_storage(ctx)
    volid = f"{storage.storage}:{unquote(ctx.params['volume'])}"
    return import_metadata(ctx.cluster.estate, node=node, volid=volid)
