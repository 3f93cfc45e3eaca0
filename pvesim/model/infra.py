"""Physical side of a cluster: nodes with their USB devices, storages and stored volumes."""

from __future__ import annotations

from dataclasses import dataclass, field

from pvesim.model.config import config_digest


@dataclass(slots=True)
class UsbDevice:
    """One entry of ``/nodes/{node}/hardware/usb`` (lsusb view of the node)."""

    busnum: int
    devnum: int
    port: int
    level: int
    usb_class: int
    vendid: str
    prodid: str
    speed: str
    manufacturer: str = ""
    product: str = ""
    serial: str = ""
    usbpath: str = ""

    def as_api(self) -> dict[str, object]:
        item: dict[str, object] = {
            "busnum": self.busnum,
            "devnum": self.devnum,
            "port": self.port,
            "level": self.level,
            "class": self.usb_class,
            "vendid": self.vendid,
            "prodid": self.prodid,
            "speed": self.speed,
        }
        for key in ("manufacturer", "product", "serial", "usbpath"):
            if value := getattr(self, key):
                item[key] = value
        return item


@dataclass(slots=True)
class Node:
    """A cluster member. ``online`` False means down (fenced, powered off, unreachable)."""

    name: str
    nodeid: int
    ip: str
    maxcpu: int
    maxmem: int
    maxdisk: int
    online: bool = True
    boot_time: float = 0.0
    ssl_fingerprint: str = ""
    usb: list[UsbDevice] = field(default_factory=list)


@dataclass(slots=True)
class Volume:
    """A stored volume that is not derived from a guest config (ISOs, templates, backups,
    import sources, orphaned images). Guest disks are derived from configs, see Estate."""

    volid: str
    content: str
    size: int
    fmt: str
    ctime: int = 0
    vmid: int | None = None
    subtype: str | None = None
    notes: str | None = None
    protected: bool = False
    verified: bool | None = None
    #: The OVF descriptor inside an ``.ova`` import source (see ``model/appliances.py``);
    #: None for other volumes and for an archive without a readable descriptor.
    ovf: dict | None = None

    def as_api(self) -> dict[str, object]:
        item: dict[str, object] = {
            "volid": self.volid,
            "content": self.content,
            "size": self.size,
            "format": self.fmt,
        }
        if self.ctime:
            item["ctime"] = self.ctime
        if self.vmid is not None:
            item["vmid"] = self.vmid
        if self.subtype:
            item["subtype"] = self.subtype
        if self.notes is not None:
            item["notes"] = self.notes
        if self.content == "backup":
            item["protected"] = 1 if self.protected else 0
        if self.verified is not None:
            item["verification"] = {"state": "ok" if self.verified else "failed", "upid": ""}
        if self.content in {"images", "rootdir", "iso", "import"}:
            item["used"] = self.size
        return item


# Keys of ``storage.cfg`` sections that PVE prints; ``content`` etc. are kept verbatim.
@dataclass(slots=True)
class Storage:
    """One ``storage.cfg`` entry. ``nodes`` None = available on every node.

    ``options`` holds the type-specific keys (path, vgname, thinpool, pool, server, export,
    datastore, prune-backups, disable, ...) as raw strings. ``capacity`` is bytes per node
    (local) or in total (shared).
    """

    storage: str
    type: str
    content: list[str]
    shared: bool = False
    nodes: list[str] | None = None
    options: dict[str, str] = field(default_factory=dict)
    capacity: int = 500 * 1024**3

    @property
    def enabled(self) -> bool:
        return self.options.get("disable") != "1"

    def available_on(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes

    def section(self) -> dict[str, str]:
        """Raw key/values of the ``storage.cfg`` section (the API's config view)."""
        values: dict[str, str] = dict(self.options)
        values["content"] = ",".join(self.content)
        if self.nodes is not None:
            values["nodes"] = ",".join(self.nodes)
        if self.shared and self.type in {"dir", "lvm", "iscsi"}:
            values["shared"] = "1"
        return values


def render_section_config(entries: list[tuple[str, str, dict[str, str]]]) -> str:
    """``PVE::SectionConfig`` text: ``type: id`` then tab-indented sorted ``key value`` lines."""
    blocks = []
    for section_type, section_id, values in entries:
        lines = [f"{section_type}: {section_id}"]
        lines.extend(f"\t{key} {values[key]}" for key in sorted(values) if values[key] != "")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def section_digest(entries: list[tuple[str, str, dict[str, str]]]) -> str:
    return config_digest(render_section_config(entries))
