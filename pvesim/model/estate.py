"""The estate of one simulated cluster: everything ``/etc/pve`` and the nodes hold.

``Estate`` is the root that ``pvesim.cluster.Cluster`` keeps as ``cluster.estate``. It is
plain data plus lookups; API handlers and control actions mutate it under the cluster lock.
Guest images are not stored separately: they are derived from guest configs (so a config
edit, migration or destroy can never leave the storage view inconsistent); ISOs, templates,
backups, import sources and orphans are stored in ``volumes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pvesim.model.clusterconf import (
    HAGroup,
    HAResource,
    HARule,
    Pool,
    SecurityGroup,
    TagPolicy,
)
from pvesim.model.errors import ModelError
from pvesim.model.guest import Guest, GuestKind
from pvesim.model.infra import Node, Storage, Volume, section_digest
from pvesim.model.propstring import parse_size
from pvesim.model.volumes import parse_volid, split_volid

#: Key of ``Estate.volumes`` for volumes on a shared storage.
SHARED = ""


class Estate:
    """Root of the simulated state of one cluster (nodes, storage, guests, cluster config)."""

    def __init__(self, *, name: str, pve_major: int = 9) -> None:
        self.name = name
        self.pve_major = pve_major
        self.nodes: dict[str, Node] = {}
        self.storages: dict[str, Storage] = {}
        self.guests: dict[int, Guest] = {}
        self.pools: dict[str, Pool] = {}
        self.volumes: dict[tuple[str, str], dict[str, Volume]] = {}
        self.ha_resources: dict[str, HAResource] = {}
        self.ha_groups: dict[str, HAGroup] = {}
        self.ha_rules: dict[str, HARule] = {}
        self.fw_groups: dict[str, SecurityGroup] = {}
        self.backup_jobs: dict[str, dict[str, str]] = {}
        self.tag_policy = TagPolicy()
        self.stats_lag = False
        """When set, ``/cluster/resources`` shows power states as of the last pvestatd push
        (every 10 s), like real PVE; off by default so tests see changes at once."""

    # ---- nodes ----------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The node ``name``; PVE's error for an unknown cluster node otherwise."""
        try:
            return self.nodes[name]
        except KeyError:
            raise ModelError(f"no such cluster node '{name}'") from None

    def node_guests(self, name: str) -> Iterator[Guest]:
        return (guest for guest in self.guests.values() if guest.node == name)

    # ---- guests ---------------------------------------------------------------------
    def guest_at(self, node: str, vmid: int, kind: GuestKind) -> Guest:
        """Resolve a guest addressed as ``/nodes/{node}/{kind}/{vmid}``.

        A guest on another node, or of the other kind, answers exactly like a missing file.
        """
        self.node(node)
        guest = self.guests.get(vmid)
        if guest is None or guest.node != node or guest.kind != kind:
            folder = "qemu-server" if kind == "qemu" else "lxc"
            raise ModelError(
                f"Configuration file 'nodes/{node}/{folder}/{vmid}.conf' does not exist"
            )
        return guest

    def next_free_vmid(self, *, lower: int = 100) -> int:
        vmid = lower
        while vmid in self.guests:
            vmid += 1
        return vmid

    def ha_resource(self, guest: Guest) -> HAResource | None:
        prefix = "vm" if guest.kind == "qemu" else "ct"
        return self.ha_resources.get(f"{prefix}:{guest.vmid}")

    # ---- storage --------------------------------------------------------------------
    def storage(self, storage_id: str) -> Storage:
        try:
            return self.storages[storage_id]
        except KeyError:
            raise ModelError(f"storage '{storage_id}' does not exist") from None

    def volume_key(self, storage: Storage, node: str) -> tuple[str, str]:
        return (storage.storage, SHARED if storage.shared else node)

    def add_volume(self, storage: Storage, node: str, volume: Volume) -> None:
        self.volumes.setdefault(self.volume_key(storage, node), {})[volume.volid] = volume

    def remove_volume(self, volid: str, *, node: str) -> Volume | None:
        """Remove a stored volume (e.g. a deleted backup); derived images need no removal."""
        storage_id, _ = split_volid(volid)
        storage = self.storages.get(storage_id)
        if storage is None:
            return None
        return self.volumes.get(self.volume_key(storage, node), {}).pop(volid, None)

    def stored_volumes(self, storage: Storage, node: str) -> list[Volume]:
        return list(self.volumes.get(self.volume_key(storage, node), {}).values())

    def guest_volumes(
        self, storage: Storage, node: str, *, vmid: int | None = None
    ) -> list[dict[str, Any]]:
        """Images and container volumes on ``storage`` as seen from ``node``, from configs."""
        prefix = storage.storage + ":"
        if vmid is not None:
            guest = self.guests.get(vmid)
            candidates = [guest] if guest is not None else []
        else:
            candidates = list(self.guests.values())
        items: list[dict[str, Any]] = []
        for guest in candidates:
            if not storage.shared and guest.node != node:
                continue
            for _key, volid, parsed in guest.volumes():
                if volid.startswith(prefix):
                    items.append(_image_item(volid, _size(parsed.get("size")), guest))
            for section in guest.snapshots.values():
                state = section.get("vmstate")
                if state and state.startswith(prefix):
                    # A RAM state file is roughly twice the guest memory (RAM + device state).
                    size = 2 * memory_mib(section.get("memory")) * 1024**2
                    items.append(_image_item(state, size, guest, state=True))
        return items

    def content(
        self, storage: Storage, node: str, *, content: str | None = None, vmid: int | None = None
    ) -> list[dict[str, Any]]:
        """``GET /nodes/{node}/storage/{storage}/content`` items."""
        items = [volume.as_api() for volume in self.stored_volumes(storage, node)]
        if content is None or content in {"images", "rootdir"}:
            items.extend(self.guest_volumes(storage, node, vmid=vmid))
        if content is not None:
            items = [item for item in items if item["content"] == content]
        if vmid is not None:
            items = [item for item in items if item.get("vmid") == vmid]
        items.sort(key=lambda item: item["volid"])
        return items

    def storage_used(self, storage: Storage, node: str) -> int:
        used = sum(volume.size for volume in self.stored_volumes(storage, node))
        used += sum(item["size"] for item in self.guest_volumes(storage, node))
        return used

    # ---- section-config digests -------------------------------------------------------
    def storage_digest(self) -> str:
        return section_digest([(s.type, s.storage, s.section()) for s in self.storages.values()])

    def ha_resources_digest(self) -> str:
        return section_digest(
            [(r.type, r.sid.split(":", 1)[1], r.section()) for r in self.ha_resources.values()]
        )

    def ha_groups_digest(self) -> str:
        return section_digest([("group", g.group, g.section()) for g in self.ha_groups.values()])

    def ha_rules_digest(self) -> str:
        return section_digest([(r.type, r.rule, r.section()) for r in self.ha_rules.values()])

    def backup_jobs_digest(self) -> str:
        return section_digest([("vzdump", key, job) for key, job in self.backup_jobs.items()])


def _size(text: str | None) -> int:
    try:
        return parse_size(text) if text else 0
    except ValueError:
        return 0


def memory_mib(text: str | None) -> int:
    """``memory`` option (``[current=]<MiB>``) -> MiB; PVE's default is 512."""
    if not text:
        return 512
    value = text.split(",", 1)[0].removeprefix("current=")
    return int(value) if value.isdigit() else 512


def _image_item(volid: str, size: int, guest: Guest, *, state: bool = False) -> dict[str, Any]:
    info = parse_volid(volid)
    item: dict[str, Any] = {
        "volid": volid,
        "content": "rootdir" if guest.kind == "lxc" and not state else info.content,
        "format": info.fmt,
        "size": size,
        "used": size,
        "vmid": info.vmid if info.vmid is not None else guest.vmid,
    }
    if info.base_volname is not None:
        item["parent"] = info.base_volname
    return item
