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
class Nic:
    """A network interface; ``mac`` is upper-case ``AA:BB:CC:DD:EE:FF``."""

    key: str
    mac: str
    model: str = ""
    bridge: str = ""


@dataclass(frozen=True, slots=True)
class Disk:
    """A disk, mount point or drive of a guest.

    ``storage`` is empty for media outside any storage (an empty drive ``none``, the
    host's ``cdrom``, a host block device or a bind-mounted directory). ``volume`` is the
    full volume id (``storage:volname``) or the host path; ``media`` is ``disk`` for
    disks and, for CD-ROM drives, ``none``, ``cdrom`` or the mounted volume id.
    ``base_vmid`` names the template a linked clone's disk is based on.
    """

    key: str
    storage: str
    volume: str
    size: int
    is_cdrom: bool = False
    media: str = "disk"
    base_vmid: int | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A passthrough or removable-media device; ``value`` is the config value as set.

    ``host_device`` is true when the guest reaches real host hardware (a host USB
    device or port, a PCI function, a host serial/parallel port, the host's CD drive);
    it is false for SPICE redirection, sockets, resource mappings and ISO images.
    """

    key: str
    kind: str  # usb | pci | serial | parallel | cdrom
    value: str
    host_device: bool


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """Everything Steward derives from one config; empty defaults when nothing parses."""

    nics: tuple[Nic, ...] = ()
    disks: tuple[Disk, ...] = ()
    devices: tuple[Device, ...] = ()
    vmgenid: str = ""
    smbios_uuid: str = ""
    ostype: str = ""
    agent_enabled: bool = False
    has_rng: bool = False
    created: int | None = None

    @property
    def macs(self) -> tuple[str, ...]:
        return tuple(nic.mac for nic in self.nics)

    @property
    def storages(self) -> tuple[str, ...]:
        """Storages holding this guest's data (sorted, unique; ISOs and unused included)."""
        return tuple(sorted({d.storage for d in self.disks if d.storage}))


def parse_config(kind: str, values: Mapping[str, str]) -> ConfigFacts:
    """Derive :class:`ConfigFacts` from a ``qemu`` or ``lxc`` config; never raises."""
    if kind not in ("qemu", "lxc") or not isinstance(values, Mapping):
        return ConfigFacts()
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
                    physical = disk.media == "cdrom"
                    devices.append(Device(key, "cdrom", disk.media, host_device=physical))
        elif kind == "lxc" and index <= _LXC_DISKS.get(prefix, -1):
            disk = parse_disk(key, value, storage_size_only=True)
            if disk:
                disks.append(disk)
        elif kind == "qemu" and prefix in _PASSTHROUGH and index <= _PASSTHROUGH[prefix][1]:
            device = parse_passthrough(key, _PASSTHROUGH[prefix][0], value)
            if device:
                devices.append(device)
        elif kind == "qemu" and prefix == "parallel" and index <= _PARALLEL:
            if value.startswith("/dev/") and "," not in value:
                devices.append(Device(key, "parallel", value, host_device=True))
        elif kind == "lxc" and prefix == "dev" and index <= _LXC_DEVS:
            device = parse_lxc_dev(key, value)
            if device:
                devices.append(device)
    if kind == "lxc" and "rootfs" in config:
        rootfs = parse_disk("rootfs", config["rootfs"], storage_size_only=True)
        if rootfs:
            disks.insert(0, rootfs)
    return ConfigFacts(
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


def parse_disk(key: str, value: str, *, storage_size_only: bool = False) -> Disk | None:
    """A qemu drive (``[file=]<volume>,media=..,size=..``) or an LXC rootfs/mp volume.

    ``storage_size_only`` marks LXC volumes, which have no media or CD-ROMs; a volume
    starting with ``/`` is a host path (a bind mount or a host block device).
    """
    props = split_property(value, "file" if not storage_size_only else "volume")
    volume = props.get("file" if not storage_size_only else "volume", "")
    if not volume:
        return None
    media = props.get("media", "disk")
    if media not in ("disk", "cdrom") or (storage_size_only and "media" in props):
        return None
    size = parse_size(props.get("size", "0"))
    is_cdrom = media == "cdrom"
    if volume in ("none", "cdrom"):
        if not is_cdrom:
            return None
        return Disk(key, "", "", size, is_cdrom=True, media=volume)
    if volume.startswith("/"):
        if not re.match(r"^/[^\s,]*$", volume):
            return None
        return Disk(key, "", volume, size, is_cdrom=is_cdrom, media=volume if is_cdrom else media)
    storage, volname = split_volume(volume)
    if not storage:
        return None
    return Disk(
        key,
        storage,
        volume,
        size,
        is_cdrom=is_cdrom,
        media=volume if is_cdrom else media,
        base_vmid=linked_base(volname),
    )


def parse_qemu_net(key: str, value: str) -> Nic | None:
    """``virtio=BC:24:11:..,bridge=vmbr0`` or ``model=virtio,macaddr=..`` -> :class:`Nic`."""
    props = split_property(value, "model")
    model, mac = props.get("model", ""), props.get("macaddr", "")
    if model not in _NIC_MODELS:
        # The short form puts the MAC under the model's name: ``virtio=BC:24:11:...``.
        named = _NIC_MODELS & props.keys()
        model = named.pop() if len(named) == 1 else ""
        mac = props.get(model, "")
    if not model or not _MAC.match(mac):
        return None
    return Nic(key, mac.upper(), model, props.get("bridge", ""))


def parse_lxc_net(key: str, value: str) -> Nic | None:
    """``name=eth0,bridge=vmbr0,hwaddr=BC:24:11:..,type=veth`` -> :class:`Nic`."""
    props = split_property(value)
    mac = props.get("hwaddr", "")
    if not _MAC.match(mac):
        return None
    return Nic(key, mac.upper(), props.get("type", "veth"), props.get("bridge", ""))


def parse_passthrough(key: str, kind: str, value: str) -> Device | None:
    """``usbN`` / ``hostpciN`` / ``serialN`` -> :class:`Device`, or None for junk.

    usb: ``host=<vendor:product | bus-port>`` (host hardware), ``spice`` or
    ``mapping=<id>`` (not host hardware as far as the guest's owner can choose it);
    hostpci: ``[host=]0000:01:00.0[;...]`` or ``mapping=<id>``; serial: ``socket`` or a
    host device path.
    """
    value = value.strip()
    if kind == "serial":
        if value == "socket":
            return Device(key, kind, value, host_device=False)
        if re.match(r"^/dev/[^,\s]+$", value):
            return Device(key, kind, value, host_device=True)
        return None
    props = split_property(value, "host")
    host, mapping = props.get("host", ""), props.get("mapping", "")
    if kind == "usb":
        if host == "spice" and not mapping:
            return Device(key, kind, value, host_device=False)
        if host and re.match(r"^(?:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}|\d+-\d+(?:\.\d+)*)$", host):
            return Device(key, kind, value, host_device=True)
    else:
        functions = host.split(";") if host else []
        if functions and all(
            re.match(r"^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?$", f)
            for f in functions
        ):
            return Device(key, kind, value, host_device=True)
    if mapping and not host and re.match(r"^[A-Za-z][A-Za-z0-9_\-.]*$", mapping):
        return Device(key, kind, value, host_device=False)
    return None


def parse_lxc_dev(key: str, value: str) -> Device | None:
    """An LXC ``devN: /dev/...`` passthrough, classified by the device path."""
    path = split_property(value, "path").get("path", "")
    if not re.match(r"^/dev/[^,\s]+$", path):
        return None
    if path.startswith(("/dev/bus/usb/", "/dev/ttyUSB", "/dev/ttyACM")):
        return Device(key, "usb", value, host_device=True)
    if path.startswith("/dev/ttyS"):
        return Device(key, "serial", value, host_device=True)
    if path.startswith(("/dev/parport", "/dev/usb/lp")):
        return Device(key, "parallel", value, host_device=True)
    if path.startswith(("/dev/dri/", "/dev/nvidia", "/dev/vfio/")):
        return Device(key, "pci", value, host_device=True)
    return None


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
