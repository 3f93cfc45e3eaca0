"""Facts from Proxmox guest configs: NICs, disks, passthrough devices, CD-ROMs, identity.

Pure functions over the raw ``key -> string`` config the API returns (see ENDPOINTS.md,
"QEMU config value syntax", and section 4 for LXC). Nothing here raises on malformed
input: a value that does not parse yields no fact, because one odd key in one guest
must never stop a sync of thousands. Values that identify a guest across clusters
(MACs, SMBIOS UUIDs, vmgenids) are normalised so equal identities compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from inventory.sync.state import ConfigFacts, DeviceFacts, DiskFacts, NicFacts

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_STORAGE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.]*[A-Za-z0-9]$")
_VOLNAME = re.compile(r"^[^\s,=:]+(?::[^\s,=]+)*$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_OSTYPE = re.compile(r"^[a-z][a-z0-9]{1,29}$")
_LINKED = re.compile(r"^base-(\d+)-disk-\d+/")
_META_CTIME = re.compile(r"(?:^|,)ctime=(\d{1,12})(?:,|$)")
_KEY = re.compile(r"^(?P<prefix>[a-z]+)(?P<index>\d{1,3})$")
_SIZE_FACTORS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}

# Highest index per numbered key, from the API schema; other indexes are not PVE keys.
_QEMU_DISKS = {"ide": 3, "sata": 5, "scsi": 30, "virtio": 15, "efidisk": 0, "tpmstate": 0}
_LXC_DISKS = {"mp": 255}
_UNUSED = 255
_NETS = 31
_PASSTHROUGH = {"usb": ("usb", 13), "hostpci": ("pci", 15), "serial": ("serial", 3)}
_PARALLEL = 2
_LXC_DEVS = 255
_NIC_MODELS = frozenset(
    {
        "e1000",
        "e1000-82540em",
        "e1000-82544gc",
        "e1000-82545em",
        "e1000e",
        "i82551",
        "i82557b",
        "i82559er",
        "ne2k_isa",
        "ne2k_pci",
        "pcnet",
        "rtl8139",
        "virtio",
        "vmxnet3",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """Everything Steward derives from one config; empty defaults when nothing parses."""

    nics: tuple[NicFacts, ...] = ()
    disks: tuple[DiskFacts, ...] = ()
    devices: tuple[DeviceFacts, ...] = ()
    vmgenid: str = ""
    smbios_uuid: str = ""
    ostype: str = ""
    agent_enabled: bool = False
    has_rng: bool = False
    created: int | None = None

    @property
    def macs(self) -> tuple[str, ...]:
        return tuple(nic.mac for nic in self.nics)


def config_facts(
    *, vmid: int, kind: str, digest: str, values: Mapping[str, str], read_at: datetime
) -> ConfigFacts:
    """The sync's :class:`~inventory.sync.state.ConfigFacts` for one config read."""
    parsed = parse_config(kind, values)
    return ConfigFacts(
        vmid=vmid,
        digest=digest,
        read_at=read_at,
        values=dict(values),
        vmgenid=parsed.vmgenid,
        smbios_uuid=parsed.smbios_uuid,
        ostype=parsed.ostype,
        agent_enabled=parsed.agent_enabled,
        has_rng=parsed.has_rng,
        nics=parsed.nics,
        disks=parsed.disks,
        devices=parsed.devices,
    )


def parse_config(kind: str, values: Mapping[str, str]) -> ParsedConfig:
    """Derive :class:`ParsedConfig` from a ``qemu`` or ``lxc`` config; never raises."""
    if kind not in ("qemu", "lxc") or not isinstance(values, Mapping):
        return ParsedConfig()
    config = {str(k): str(v) for k, v in values.items() if isinstance(k, str) and v is not None}
    nics, disks, devices = [], [], []
    for key in sorted(config, key=_key_order):
        value = config[key]
        match = _KEY.match(key)
        if match is None:
            continue
        prefix, index = match["prefix"], int(match["index"])
        if prefix == "net" and index <= _NETS:
            nic = parse_qemu_net(key, value) if kind == "qemu" else parse_lxc_net(key, value)
            if nic:
                nics.append(nic)
        elif prefix == "unused" and index <= _UNUSED:
            disk = parse_disk(key, value)
            if disk:
                disks.append(disk)
        elif kind == "qemu" and index <= _QEMU_DISKS.get(prefix, -1):
            disk = parse_disk(key, value)
            if disk:
                disks.append(disk)
                if disk.is_cdrom:
                    devices.append(DeviceFacts(key, "cdrom", disk.media))
        elif kind == "lxc" and index <= _LXC_DISKS.get(prefix, -1):
            disk = parse_disk(key, value, lxc=True)
            if disk:
                disks.append(disk)
        elif kind == "qemu" and prefix in _PASSTHROUGH and index <= _PASSTHROUGH[prefix][1]:
            device = parse_passthrough(key, _PASSTHROUGH[prefix][0], value)
            if device:
                devices.append(device)
        elif kind == "qemu" and prefix == "parallel" and index <= _PARALLEL:
            if re.match(r"^/dev/[^,\s]+$", value):
                devices.append(DeviceFacts(key, "parallel", value))
        elif kind == "lxc" and prefix == "dev" and index <= _LXC_DEVS:
            device = parse_lxc_dev(key, value)
            if device:
                devices.append(device)
    if kind == "lxc" and "rootfs" in config:
        rootfs = parse_disk("rootfs", config["rootfs"], lxc=True)
        if rootfs:
            disks.insert(0, rootfs)
    return ParsedConfig(
        nics=tuple(nics),
        disks=tuple(disks),
        devices=tuple(devices),
        vmgenid=_uuid(config.get("vmgenid", "")) if kind == "qemu" else "",
        smbios_uuid=_uuid(split_property(config.get("smbios1", "")).get("uuid", ""))
        if kind == "qemu"
        else "",
        ostype=config.get("ostype", "") if _OSTYPE.match(config.get("ostype", "")) else "",
        agent_enabled=kind == "qemu" and _agent_enabled(config.get("agent", "")),
        has_rng=kind == "qemu" and bool(config.get("rng0", "").strip()),
        created=_created(config.get("meta", "")),
    )


def split_property(value: str, default_key: str = "") -> dict[str, str]:
    """Split a PVE property string ``a=1,b=2`` into a dict; a bare item goes to ``default_key``.

    Returns ``{}`` when an item repeats a key or a bare item has no default key, since
    PVE would refuse such a value and guessing its meaning could invent a device.
    """
    result: dict[str, str] = {}
    for item in str(value).split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep:
            if not default_key:
                return {}
            key, val = default_key, item
        key = key.strip()
        if not key or key in result:
            return {}
        result[key] = val.strip()
    return result


def parse_size(value: str) -> int:
    """``32G`` / ``709M`` / ``1.5T`` / ``4096`` (bytes) -> bytes; 0 for anything else."""
    match = _SIZE.match(str(value).strip())
    if not match:
        return 0
    return int(float(match[1]) * _SIZE_FACTORS[match[2]])


def split_volume(volume: str) -> tuple[str, str]:
    """``storage:volname`` -> (storage, volname), or ("", "") when it is not a volume id."""
    storage, sep, volname = str(volume).partition(":")
    if not sep or not _STORAGE_ID.match(storage) or not _VOLNAME.match(volname):
        return "", ""
    return storage, volname


def linked_base(volname: str) -> int | None:
    """The template vmid of a linked-clone volume (``base-9000-disk-0/vm-101-disk-0``)."""
    match = _LINKED.match(volname)
    return int(match[1]) if match else None


def parse_disk(key: str, value: str, *, lxc: bool = False) -> DiskFacts | None:
    """A qemu drive (``[file=]<volume>,media=..,size=..``) or an LXC rootfs/mp volume.

    LXC volumes have no media and no CD-ROMs; a volume starting with ``/`` is a host
    path (a bind mount or a host block device) and has no storage. ``media`` is set
    for CD-ROM drives only: ``none``, ``cdrom`` (the host's drive) or the volume id.
    """
    props = split_property(value, "volume" if lxc else "file")
    volume = props.get("volume" if lxc else "file", "")
    media = props.get("media", "disk")
    if not volume or media not in ("disk", "cdrom") or (lxc and "media" in props):
        return None
    size = parse_size(props.get("size", "0"))
    is_cdrom = media == "cdrom"
    if volume in ("none", "cdrom"):
        return DiskFacts(key, "", "", size, is_cdrom=True, media=volume) if is_cdrom else None
    if volume.startswith("/"):
        if not re.match(r"^/[^\s,]*$", volume):
            return None
        storage = ""
    else:
        storage, _ = split_volume(volume)
        if not storage:
            return None
    return DiskFacts(
        key, storage, volume, size, is_cdrom=is_cdrom, media=volume if is_cdrom else ""
    )


def parse_qemu_net(key: str, value: str) -> NicFacts | None:
    """``virtio=BC:24:11:..,bridge=vmbr0`` or ``model=virtio,macaddr=..`` -> a NIC."""
    props = split_property(value, "model")
    model, mac = props.get("model", ""), props.get("macaddr", "")
    if model not in _NIC_MODELS:
        # The short form puts the MAC under the model's name: ``virtio=BC:24:11:...``.
        named = _NIC_MODELS & props.keys()
        model = named.pop() if len(named) == 1 else ""
        mac = props.get(model, "")
    if not model or not _MAC.match(mac):
        return None
    return NicFacts(key, mac.upper(), model, props.get("bridge", ""))


def parse_lxc_net(key: str, value: str) -> NicFacts | None:
    """``name=eth0,bridge=vmbr0,hwaddr=BC:24:11:..,type=veth`` -> a NIC."""
    props = split_property(value)
    mac = props.get("hwaddr", "")
    if not _MAC.match(mac):
        return None
    return NicFacts(key, mac.upper(), props.get("type", "veth"), props.get("bridge", ""))


_USB_HOST = re.compile(r"^(?:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}|\d+-\d+(?:\.\d+)*)$")
_PCI_FUNCTION = re.compile(r"^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?$")
_MAPPING = re.compile(r"^[A-Za-z][A-Za-z0-9_\-.]*$")
_DEV_PATH = re.compile(r"^/dev/[^,\s]+$")


def parse_passthrough(key: str, kind: str, value: str) -> DeviceFacts | None:
    """``usbN`` / ``hostpciN`` / ``serialN`` -> a device, or None for junk.

    usb: ``host=<vendor:product | bus-port>``, ``spice`` or ``mapping=<id>``; hostpci:
    ``[host=]0000:01:00.0[;...]`` or ``mapping=<id>``; serial: ``socket`` or a host path.
    """
    value = value.strip()
    if kind == "serial":
        return (
            DeviceFacts(key, kind, value) if value == "socket" or _DEV_PATH.match(value) else None
        )
    props = split_property(value, "host")
    host, mapping = props.get("host", ""), props.get("mapping", "")
    if host and mapping:
        return None
    if mapping:
        valid = bool(_MAPPING.match(mapping))
    elif kind == "usb":
        valid = host == "spice" or bool(_USB_HOST.match(host))
    else:
        valid = bool(host) and all(_PCI_FUNCTION.match(f) for f in host.split(";"))
    return DeviceFacts(key, kind, value) if valid else None


def parse_lxc_dev(key: str, value: str) -> DeviceFacts | None:
    """An LXC ``devN: /dev/...`` passthrough, classified by the device path.

    Paths of no known class (``/dev/kvm``, ``/dev/fuse``...) give no fact: they are
    kernel interfaces rather than hardware a policy about devices cares for.
    """
    path = split_property(value, "path").get("path", "")
    if not _DEV_PATH.match(path):
        return None
    for prefixes, kind in _LXC_DEV_KINDS:
        if path.startswith(prefixes):
            return DeviceFacts(key, kind, value)
    return None


_LXC_DEV_KINDS = (
    (("/dev/bus/usb/", "/dev/ttyUSB", "/dev/ttyACM"), "usb"),
    (("/dev/ttyS",), "serial"),
    (("/dev/parport", "/dev/usb/lp"), "parallel"),
    (("/dev/dri/", "/dev/nvidia", "/dev/vfio/"), "pci"),
)


def reaches_host(device: DeviceFacts) -> bool:
    """Whether the guest reaches real host hardware through ``device``.

    True for host USB devices or ports, PCI functions, host serial/parallel ports, LXC
    device nodes and the host's CD drive; false for SPICE redirection, sockets,
    resource mappings (an admin vetted those) and ISO images or empty drives.
    """
    if device.kind == "cdrom":
        return device.value == "cdrom"
    if device.value in ("spice", "socket"):
        return False
    return "mapping" not in split_property(device.value, "host")


def linked_base_vmid(volume: str) -> int | None:
    """The template vmid a linked clone's disk is based on (``s:base-9000-disk-0/vm-...``)."""
    _, volname = split_volume(volume)
    return linked_base(volname)


def _uuid(value: str) -> str:
    value = str(value).strip()
    return value.lower() if _UUID.match(value) else ""


def _agent_enabled(value: str) -> bool:
    props = split_property(value, "enabled")
    return props.get("enabled", "0").lower() in ("1", "on", "yes", "true")


def _created(meta: str) -> int | None:
    match = _META_CTIME.search(str(meta))
    return int(match[1]) if match else None


def _key_order(key: str) -> tuple[str, int]:
    """Sort ``net2`` before ``net10`` so facts come out in the order a person reads them."""
    match = _KEY.match(key)
    return (match["prefix"], int(match["index"])) if match else (key, -1)
