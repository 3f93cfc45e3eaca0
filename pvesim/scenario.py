"""Seeded generator of realistic estates, from a 2-cluster demo to 100,000 guests.

``scenario_plan`` is cheap (no guests built); each :class:`ClusterPlan` builds its
:class:`~pvesim.model.Estate` on ``build()``, so a server can start at once and build large
clusters lazily. The same (scenario, seed, sizes) always yields the same estate.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from pvesim.model import Estate
from pvesim.model.clusterconf import HAGroup, HAResource, HARule, Pool, SecurityGroup
from pvesim.model.guest import Guest, GuestFirewall
from pvesim.model.infra import Node, Storage, UsbDevice, Volume
from pvesim.model.snapshots import snapshot_create
from pvesim.model.volumes import image_volname, state_volname

CLUSTER_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
)
ROLES = (
    "web",
    "app",
    "db",
    "cache",
    "proxy",
    "mail",
    "dns",
    "ldap",
    "vpn",
    "jump",
    "ci",
    "build",
    "k8s",
    "mon",
    "log",
    "git",
    "wiki",
    "erp",
    "crm",
    "files",
)
TEAMS = ("fin", "hr", "eng", "ops", "sales", "lab", "research", "it")
PCI_DEVICES = ("0000:01:00.0", "0000:02:00.0", "0000:81:00.0")
SENSITIVE_NAMES = ("hr-payroll", "fin-ledger", "pki-root-ca", "hsm-bridge", "patient-records")

_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Preset:
    clusters: int
    nodes: int
    guests: int


PRESETS = {
    "small": Preset(clusters=1, nodes=3, guests=30),
    "demo": Preset(clusters=2, nodes=4, guests=200),
    "large": Preset(clusters=20, nodes=16, guests=100_000),
}


@dataclass(frozen=True, slots=True)
class OsProfile:
    """One operating system flavour: qemu ``ostype`` or lxc ``ostype`` plus agent info."""

    ostype: str
    label: str
    pretty: str
    kernel: str
    version_id: str
    os_id: str
    windows: bool = False


QEMU_OSES = (
    OsProfile(
        "l26", "debian12", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64", "12", "debian"
    ),
    OsProfile("l26", "ubuntu2404", "Ubuntu 24.04.1 LTS", "6.8.0-49-generic", "24.04", "ubuntu"),
    OsProfile(
        "l26",
        "rocky9",
        "Rocky Linux 9.5 (Blue Onyx)",
        "5.14.0-503.14.1.el9_5.x86_64",
        "9.5",
        "rocky",
    ),
    OsProfile(
        "win11",
        "win2022",
        "Microsoft Windows Server 2022 Standard",
        "10.0.20348",
        "2022",
        "mswindows",
        True,
    ),
    OsProfile(
        "win10", "win10", "Microsoft Windows 10 Enterprise", "10.0.19045", "10", "mswindows", True
    ),
    OsProfile("other", "appliance", "", "", "", ""),
    OsProfile("solaris", "solaris", "", "", "", ""),
)
LXC_OSES = ("debian", "ubuntu", "alpine", "rockylinux", "archlinux")
QEMU_OS_WEIGHTS = (40, 25, 10, 12, 5, 5, 1)


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """Everything needed to build one cluster's estate; ``build`` is deterministic."""

    name: str
    index: int
    seed: int
    nodes: int
    guests: int
    pve_major: int

    @property
    def node_names(self) -> list[str]:
        word = self.name.removeprefix("pve-")
        return [f"{word}{i}" for i in range(1, self.nodes + 1)]

    def build(self, *, now: float) -> Estate:
        return _Builder(self, now=now).build()


def scenario_plan(
    scenario: str,
    *,
    seed: int = 1,
    clusters: int | None = None,
    guests: int | None = None,
    nodes: int | None = None,
    pve_major: int = 9,
) -> list[ClusterPlan]:
    """Split a scenario into per-cluster plans; ``guests`` is the total over all clusters."""
    try:
        preset = PRESETS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario '{scenario}' (choose {', '.join(PRESETS)})") from None
    total = preset.guests if guests is None else guests
    count = preset.clusters if clusters is None else clusters
    if guests is not None and clusters is None and scenario == "large":
        count = max(1, math.ceil(total / 5000))
    if count < 1 or total < 0:
        raise ValueError("need at least one cluster and a non-negative guest count")
    per_node = preset.nodes if nodes is None else nodes
    plans = []
    for index in range(count):
        share = total // count + (1 if index < total % count else 0)
        word = CLUSTER_WORDS[index % len(CLUSTER_WORDS)]
        if index >= len(CLUSTER_WORDS):
            word = f"{word}{index // len(CLUSTER_WORDS) + 1}"
        # Two mixed profiles in the demo so the portal sees both PVE generations.
        major = pve_major if scenario != "demo" or index == 0 else 8
        plans.append(
            ClusterPlan(
                name=f"pve-{word}",
                index=index,
                seed=seed * 1000 + index,
                nodes=per_node,
                guests=share,
                pve_major=major,
            )
        )
    return plans


def generate(scenario: str, *, seed: int = 1, now: float, **sizes: int | None) -> list[Estate]:
    """Build every cluster of a scenario at once (tests and small estates)."""
    return [plan.build(now=now) for plan in scenario_plan(scenario, seed=seed, **sizes)]


class _Builder:
    """Builds one estate. Kept as one class so the random stream order is fixed."""

    def __init__(self, plan: ClusterPlan, *, now: float) -> None:
        self.plan = plan
        self.now = int(now)
        self.rng = random.Random(plan.seed)
        self.estate = Estate(name=plan.name, pve_major=plan.pve_major)
        self.vmid = 100
        self.shared_images = plan.index % 4 != 3  # most clusters run Ceph RBD, some only local

    def build(self) -> Estate:
        self._nodes()
        self._storages()
        self._library()
        self._pools()
        self._firewall_groups()
        templates = self._templates()
        self._guests(templates)
        self._showcase()
        self._ha()
        self._backup_jobs()
        return self.estate

    # ---- infrastructure ---------------------------------------------------------------
    def _nodes(self) -> None:
        rng = self.rng
        for nodeid, name in enumerate(self.plan.node_names, start=1):
            cores = rng.choice((32, 48, 64, 96))
            node = Node(
                name=name,
                nodeid=nodeid,
                ip=f"10.{self.plan.index % 250}.0.{10 + nodeid}",
                maxcpu=cores,
                maxmem=rng.choice((256, 384, 512, 768)) * _GIB,
                maxdisk=rng.choice((100, 200)) * _GIB,
                boot_time=self.now - rng.randint(3, 200) * 86400,
                ssl_fingerprint=":".join(f"{rng.randrange(256):02X}" for _ in range(32)),
                usb=self._usb_devices(nodeid),
            )
            self.estate.nodes[name] = node

    def _usb_devices(self, nodeid: int) -> list[UsbDevice]:
        devices = [
            UsbDevice(1, 1, 0, 0, 9, "1d6b", "0002", "480", "Linux Foundation", "2.0 root hub"),
            UsbDevice(2, 1, 0, 0, 9, "1d6b", "0003", "5000", "Linux Foundation", "3.0 root hub"),
            UsbDevice(1, 2, 1, 1, 0, "0557", "2419", "12", "ATEN", "KVM console", "", "1-1"),
        ]
        if nodeid == 1:
            devices.append(
                UsbDevice(
                    2,
                    2,
                    2,
                    1,
                    0,
                    "0781",
                    "5583",
                    "5000",
                    "SanDisk",
                    "Ultra Fit",
                    f"4C53{nodeid:04d}8812",
                    "2-2",
                )
            )
        if nodeid % 2 == 0:
            devices.append(
                UsbDevice(
                    1,
                    3,
                    3,
                    1,
                    3,
                    "1050",
                    "0407",
                    "12",
                    "Yubico",
                    "YubiKey OTP+FIDO+CCID",
                    "",
                    "1-3",
                )
            )
        if nodeid % 3 == 0:
            devices.append(
                UsbDevice(
                    1, 4, 4, 1, 255, "0529", "0001", "12", "Aladdin", "HASP dongle", "", "1-4"
                )
            )
        return devices

    def _storages(self) -> None:
        nodes = self.plan.node_names
        items = [
            Storage(
                "local",
                "dir",
                ["iso", "vztmpl", "backup", "import"],
                options={"path": "/var/lib/vz"},
                capacity=100 * _GIB,
            ),
            Storage(
                "local-lvm",
                "lvmthin",
                ["rootdir", "images"],
                options={"thinpool": "data", "vgname": "pve"},
                capacity=1800 * _GIB,
            ),
            Storage(
                "nfs-iso",
                "nfs",
                ["iso", "vztmpl", "backup"],
                shared=True,
                options={
                    "server": "10.250.0.5",
                    "export": "/export/pve",
                    "path": "/mnt/pve/nfs-iso",
                    "prune-backups": "keep-last=3",
                },
                capacity=8 * 1024 * _GIB,
            ),
            Storage(
                "pbs",
                "pbs",
                ["backup"],
                shared=True,
                options={
                    "server": "10.250.0.6",
                    "datastore": "store1",
                    "username": "backup@pbs",
                    "fingerprint": "aa:bb:cc:dd",
                    "prune-backups": "keep-daily=7,keep-weekly=4",
                },
                capacity=40 * 1024 * _GIB,
            ),
            # A USB disk mounted on the first node only: governance must notice backups on it.
            Storage(
                "usb-backup",
                "dir",
                ["backup"],
                nodes=[nodes[0]],
                options={
                    "path": "/mnt/usb-backup",
                    "is_mountpoint": "yes",
                    "prune-backups": "keep-last=2",
                },
                capacity=2 * 1024 * _GIB,
            ),
        ]
        if self.shared_images:
            items.append(
                Storage(
                    "ceph-rbd",
                    "rbd",
                    ["images", "rootdir"],
                    shared=True,
                    options={"pool": "vm-pool", "krbd": "0"},
                    capacity=64 * 1024 * _GIB,
                )
            )
        for storage in items:
            self.estate.storages[storage.storage] = storage

    def _library(self) -> None:
        """ISOs, container templates and import sources (stored volumes)."""
        est = self.estate
        isos = [
            ("debian-12.8.0-amd64-netinst.iso", 631),
            ("ubuntu-24.04.1-live-server-amd64.iso", 2694),
            ("Win11_24H2_English_x64.iso", 5819),
            ("virtio-win-0.1.266.iso", 709),
        ]
        tmpls = [
            ("debian-12-standard_12.7-1_amd64.tar.zst", 126),
            ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", 141),
            ("alpine-3.20-default_20240908_amd64.tar.xz", 3),
        ]
        nfs = est.storages["nfs-iso"]
        for name, mib in isos:
            est.add_volume(
                nfs,
                "",
                Volume(
                    f"nfs-iso:iso/{name}", "iso", mib * 1024**2, "iso", ctime=self.now - 90 * 86400
                ),
            )
        for node in self.plan.node_names:
            local = est.storages["local"]
            for name, mib in isos[:2]:
                est.add_volume(
                    local,
                    node,
                    Volume(
                        f"local:iso/{name}",
                        "iso",
                        mib * 1024**2,
                        "iso",
                        ctime=self.now - 120 * 86400,
                    ),
                )
            for name, mib in tmpls:
                fmt = "txz" if name.endswith("xz") else "tzst"
                est.add_volume(
                    local, node, Volume(f"local:vztmpl/{name}", "vztmpl", mib * 1024**2, fmt)
                )
        first = self.plan.node_names[0]
        for name, size, fmt in (
            ("legacy-erp.ova", 42 * _GIB, "ova"),
            ("win2019-p2v.vmdk", 120 * _GIB, "vmdk"),
            ("router-appliance.qcow2", 2 * _GIB, "qcow2"),
        ):
            est.add_volume(
                est.storages["local"], first, Volume(f"local:import/{name}", "import", size, fmt)
            )

    def _pools(self) -> None:
        for poolid, comment in (
            ("prod", "Production services"),
            ("dev", "Development and test"),
            ("research", "Research groups"),
            ("infra", "Shared infrastructure"),
        ):
            self.estate.pools[poolid] = Pool(poolid, comment)
        self.estate.pools["infra"].storage = ["nfs-iso"]

    def _firewall_groups(self) -> None:
        def rule(pos: int, **values: object) -> dict[str, object]:
            return {"pos": pos, "enable": 1, **values}

        self.estate.fw_groups = {
            "webserver": SecurityGroup(
                "webserver",
                "HTTP(S) in",
                [
                    rule(0, type="in", action="ACCEPT", macro="HTTPS"),
                    rule(1, type="in", action="ACCEPT", macro="HTTP"),
                ],
            ),
            "ssh-admin": SecurityGroup(
                "ssh-admin",
                "SSH from the admin network",
                [
                    rule(0, type="in", action="ACCEPT", macro="SSH", source="10.250.0.0/24"),
                ],
            ),
            "db": SecurityGroup(
                "db",
                "",
                [
                    rule(
                        0,
                        type="in",
                        action="ACCEPT",
                        proto="tcp",
                        dport="5432",
                        source="10.0.0.0/8",
                        comment="postgres",
                    ),
                ],
            ),
        }

    # ---- guests ---------------------------------------------------------------------
    def _image_storage(self, rng: random.Random) -> Storage:
        est = self.estate
        if self.shared_images and rng.random() < 0.6:
            return est.storages["ceph-rbd"]
        return est.storages["local-lvm"]

    def _templates(self) -> list[Guest]:
        """A few templates at 9000+; linked clones of them follow in ``_guests``."""
        if self.plan.guests < 10:
            return []
        templates = []
        names = ("tpl-debian12", "tpl-ubuntu2404", "tpl-win2022")
        storage = self.estate.storages["ceph-rbd" if self.shared_images else "local-lvm"]
        for offset, name in enumerate(names):
            vmid = 9000 + offset
            node = self.plan.node_names[0]
            os_profile = QEMU_OSES[3] if "win" in name else QEMU_OSES[offset]
            guest = self._qemu(vmid, node, name, os_profile, storage, template=True)
            templates.append(guest)
        return templates

    def _guests(self, templates: list[Guest]) -> None:
        plan = self.plan
        rng = self.rng
        nodes = plan.node_names
        remaining = plan.guests - len(templates)
        sensitive_left = list(SENSITIVE_NAMES[: max(1, min(5, plan.guests // 40))])
        for number in range(max(0, remaining)):
            vmid = self.vmid
            self.vmid += 1
            if vmid >= 9000 and vmid < 9000 + len(templates):
                vmid = self.vmid = 9000 + len(templates) + 1
                self.vmid += 1
            node = nodes[rng.randrange(len(nodes))]
            team = TEAMS[rng.randrange(len(TEAMS))]
            name = f"{team}-{ROLES[rng.randrange(len(ROLES))]}-{number:02d}"
            if rng.random() < 0.25:
                guest = self._lxc(vmid, node, name)
            else:
                profile = rng.choices(QEMU_OSES, QEMU_OS_WEIGHTS)[0]
                base = None
                if templates and rng.random() < 0.15:
                    base = templates[rng.randrange(len(templates))]
                    if not self.shared_images:
                        node = base.node
                guest = self._qemu(vmid, node, name, profile, self._image_storage(rng), base=base)
                self._extras(guest)
            if sensitive_left and rng.random() < 0.05:
                self._make_sensitive(guest, sensitive_left.pop())
            self._runtime(guest)
            self._snapshots(guest)
            self._backups(guest)
            pool = rng.random()
            if pool < 0.6:
                guest.pool = ("prod", "dev", "research", "infra")[int(pool * 10) % 4]

    def _mac(self) -> str:
        value = self.rng.getrandbits(24)
        return f"BC:24:11:{value >> 16:02X}:{(value >> 8) & 0xFF:02X}:{value & 0xFF:02X}"

    def _uuid(self) -> str:
        text = f"{self.rng.getrandbits(128):032x}"
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"

    def _qemu(
        self,
        vmid: int,
        node: str,
        name: str,
        profile: OsProfile,
        storage: Storage,
        *,
        template: bool = False,
        base: Guest | None = None,
    ) -> Guest:
        rng = self.rng
        cores = rng.choice((1, 2, 2, 4, 4, 8, 16))
        memory = rng.choice((1024, 2048, 4096, 4096, 8192, 16384, 32768))
        size = rng.choice((16, 32, 32, 64, 100, 200))
        if base is not None:
            base_disk = base.config["scsi0"].split(",", 1)[0].split(":", 1)[1]
            volname = image_volname(storage_type=storage.type, vmid=vmid, index=0, base=base_disk)
            storage = self.estate.storages[base.config["scsi0"].split(":", 1)[0]]
            size = int(base.config["scsi0"].rsplit("size=", 1)[1].rstrip("G"))
        else:
            prefix = "base" if template else "vm"
            volname = image_volname(storage_type=storage.type, vmid=vmid, index=0, prefix=prefix)
        ctime = self.now - rng.randint(1, 900) * 86400
        config = {
            "boot": "order=scsi0;ide2;net0",
            "cores": str(cores),
            "cpu": "x86-64-v2-AES",
            "ide2": "none,media=cdrom",
            "memory": str(memory),
            "meta": f"creation-qemu=9.0.2,ctime={ctime}",
            "name": name,
            "net0": f"virtio={self._mac()},bridge=vmbr0,firewall=1",
            "numa": "0",
            "ostype": profile.ostype,
            "scsi0": f"{storage.storage}:{volname},iothread=1,size={size}G",
            "scsihw": "virtio-scsi-single",
            "smbios1": f"uuid={self._uuid()}",
            "sockets": "1",
            "vmgenid": self._uuid(),
        }
        if profile.windows:
            config["machine"] = "pc-q35-9.0"
            config["bios"] = "ovmf"
            efi = image_volname(storage_type=storage.type, vmid=vmid, index=1)
            config["efidisk0"] = f"{storage.storage}:{efi},efitype=4m,pre-enrolled-keys=1,size=1M"
            config["tpmstate0"] = (
                f"{storage.storage}:{image_volname(storage_type=storage.type, vmid=vmid, index=2)}"
                ",size=4M,version=v2.0"
            )
        if profile.os_id and rng.random() < 0.85:
            config["agent"] = "1"
        if rng.random() < 0.5:
            config["onboot"] = "1"
        if rng.random() < 0.3:
            config["tags"] = ";".join(sorted({profile.label, rng.choice(("prod", "dev", "web"))}))
        if template:
            config["template"] = "1"
        guest = Guest(vmid=vmid, kind="qemu", node=node, config=config)
        guest.agent_installed = "agent" in config and rng.random() < 0.9
        self.estate.guests[vmid] = guest
        return guest

    def _extras(self, guest: Guest) -> None:
        """Passthrough devices, mounted ISOs and extra disks on a minority of VMs."""
        rng = self.rng
        config = guest.config
        node = self.estate.nodes[guest.node]
        roll = rng.random()
        if roll < 0.03:
            usable = [d for d in node.usb if d.vendid not in {"1d6b", "0557"}]
            if usable:
                device = usable[rng.randrange(len(usable))]
                config["usb0"] = f"host={device.vendid}:{device.prodid}"
            else:
                config["usb0"] = "spice"
        elif roll < 0.05:
            config["serial0"] = "/dev/ttyS0" if rng.random() < 0.5 else "socket"
        elif roll < 0.065:
            config["hostpci0"] = f"{PCI_DEVICES[rng.randrange(len(PCI_DEVICES))]},pcie=1"
            config["machine"] = "q35"
        if rng.random() < 0.1:
            config["ide2"] = "nfs-iso:iso/virtio-win-0.1.266.iso,media=cdrom,size=709M"
        if rng.random() < 0.2:
            storage = self.estate.storages[config["scsi0"].split(":", 1)[0]]
            volname = image_volname(storage_type=storage.type, vmid=guest.vmid, index=3)
            config["scsi1"] = (
                f"{storage.storage}:{volname},iothread=1,size={rng.choice((50, 500))}G"
            )

    def _lxc(self, vmid: int, node: str, name: str) -> Guest:
        rng = self.rng
        storage = self._image_storage(rng)
        ostype = LXC_OSES[rng.randrange(len(LXC_OSES))]
        volname = image_volname(storage_type=storage.type, vmid=vmid, index=0)
        config = {
            "arch": "amd64",
            "cores": str(rng.choice((1, 2, 4))),
            "features": "nesting=1",
            "hostname": name,
            "memory": str(rng.choice((512, 1024, 2048, 4096))),
            "net0": f"name=eth0,bridge=vmbr0,firewall=1,hwaddr={self._mac()},ip=dhcp,type=veth",
            "ostype": ostype,
            "rootfs": f"{storage.storage}:{volname},size={rng.choice((8, 16, 32))}G",
            "swap": "512",
            "unprivileged": "1",
        }
        if rng.random() < 0.4:
            config["onboot"] = "1"
        if rng.random() < 0.2:
            config["tags"] = "ct;" + rng.choice(("infra", "prod", "dev"))
        guest = Guest(vmid=vmid, kind="lxc", node=node, config=config)
        self.estate.guests[vmid] = guest
        return guest

    def _make_sensitive(self, guest: Guest, name: str) -> None:
        guest.sensitive = True
        key = "name" if guest.kind == "qemu" else "hostname"
        guest.config[key] = name
        guest.config["tags"] = "pii;sensitive"
        guest.config["protection"] = "1"
        guest.config["description"] = "Holds personal data. Access is audited."
        guest.firewall = GuestFirewall(
            options={"enable": "1", "policy_in": "DROP"},
            rules=[{"pos": 0, "type": "group", "action": "ssh-admin", "enable": 1}],
        )

    def _runtime(self, guest: Guest) -> None:
        rng = self.rng
        if guest.is_template or rng.random() > 0.7:
            return
        guest.status = "running"
        guest.started_at = float(self.now - rng.randint(60, 90 * 86400))
        guest.pid = rng.randint(1000, 4_000_000)
        if guest.kind == "qemu" and guest.config.get("name", "").startswith("web") is False:
            guest.paused = rng.random() < 0.01
        if guest.firewall is None and rng.random() < 0.1:
            guest.firewall = GuestFirewall(
                options={"enable": "1"},
                rules=[{"pos": 0, "type": "group", "action": "webserver", "enable": 1}],
            )

    def _snapshots(self, guest: Guest) -> None:
        rng = self.rng
        if guest.is_template or rng.random() > 0.15:
            return
        when = self.now - rng.randint(2, 60) * 86400
        snapshot_create(
            guest, name="pre_upgrade", description="before OS upgrade", snaptime=when, vmstate=None
        )
        if guest.kind == "qemu" and guest.running and rng.random() < 0.5:
            storage_id = guest.config["scsi0"].split(":", 1)[0]
            storage = self.estate.storages[storage_id]
            state = state_volname(storage_type=storage.type, vmid=guest.vmid, snapname="with_ram")
            snapshot_create(
                guest,
                name="with_ram",
                description="live state incl. RAM",
                snaptime=when + 86400,
                vmstate=f"{storage_id}:{state}",
            )

    def _backups(self, guest: Guest) -> None:
        rng = self.rng
        if guest.is_template or rng.random() > 0.35:
            return
        est = self.estate
        kind = "qemu" if guest.kind == "qemu" else "lxc"
        for days in range(rng.randint(1, 3)):
            ctime = self.now - (days + 1) * 86400 - 3 * 3600
            size = rng.randint(1, 40) * _GIB
            stamp = _stamp(ctime)
            if rng.random() < 0.6:
                pbs_type = "vm" if kind == "qemu" else "ct"
                iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctime))
                volid = f"pbs:backup/{pbs_type}/{guest.vmid}/{iso}"
                volume = Volume(
                    volid,
                    "backup",
                    size,
                    f"pbs-{pbs_type}",
                    ctime=ctime,
                    vmid=guest.vmid,
                    subtype=kind,
                    notes=guest.name,
                    verified=rng.random() < 0.9,
                )
                est.add_volume(est.storages["pbs"], "", volume)
            else:
                target = "usb-backup" if rng.random() < 0.3 else "nfs-iso"
                storage = est.storages[target]
                node = storage.nodes[0] if storage.nodes else ""
                ext = "vma.zst" if kind == "qemu" else "tar.zst"
                volid = f"{target}:backup/vzdump-{kind}-{guest.vmid}-{stamp}.{ext}"
                volume = Volume(
                    volid,
                    "backup",
                    size,
                    ext,
                    ctime=ctime,
                    vmid=guest.vmid,
                    subtype=kind,
                    notes=guest.name,
                )
                est.add_volume(storage, node, volume)

    def _showcase(self) -> None:
        """Guarantee one fully featured guest of each kind per cluster (demos, tests): a
        running VM with an agent, RAM and disk snapshots and firewall rules, and a running
        container with snapshots and rules. They end up with the most snapshots."""
        guests = self.estate.guests.values()
        vm = next(
            (
                g
                for g in guests
                if g.kind == "qemu"
                and g.agent_installed
                and not g.sensitive
                and not g.is_template
                and "usb0" not in g.config
            ),
            None,
        )
        ct = next((g for g in guests if g.kind == "lxc" and not g.sensitive), None)
        for guest in (vm, ct):
            if guest is None:
                continue
            if not guest.running:
                guest.status = "running"
                guest.started_at = float(self.now - 7 * 86400)
                guest.pid = 4242 + guest.vmid
            guest.paused = False
            guest.snapshots.clear()
            guest.config.pop("parent", None)
            base = self.now - 30 * 86400
            snapshot_create(
                guest, name="baseline", description="after install", snaptime=base, vmstate=None
            )
            snapshot_create(
                guest,
                name="pre_update",
                description="before updates",
                snaptime=base + 86400,
                vmstate=None,
            )
            if guest.kind == "qemu":
                storage_id = guest.config["scsi0"].split(":", 1)[0]
                storage = self.estate.storages[storage_id]
                state = state_volname(storage_type=storage.type, vmid=guest.vmid, snapname="live")
                snapshot_create(
                    guest,
                    name="live",
                    description="with RAM",
                    snaptime=base + 2 * 86400,
                    vmstate=f"{storage_id}:{state}",
                )
            guest.firewall = GuestFirewall(
                options={"enable": "1", "policy_in": "DROP"},
                rules=[
                    {"pos": 0, "type": "group", "action": "ssh-admin", "enable": 1},
                    {"pos": 1, "type": "in", "action": "ACCEPT", "macro": "HTTPS", "enable": 1},
                ],
            )

    # ---- cluster config ---------------------------------------------------------------
    def _ha(self) -> None:
        est = self.estate
        if not self.shared_images:
            return
        candidates = [
            g
            for g in est.guests.values()
            if not g.is_template
            and g.kind == "qemu"
            and g.config["scsi0"].startswith("ceph-rbd:")
            and not any(k in g.config for k in ("usb0", "hostpci0", "serial0"))
        ]
        chosen = candidates[: max(2, len(candidates) // 20)]
        for guest in chosen:
            state = "started" if guest.running else "stopped"
            resource = HAResource(sid=f"vm:{guest.vmid}", state=state, crm_state=state)
            est.ha_resources[resource.sid] = resource
        nodes = self.plan.node_names
        preferred = f"{nodes[0]}:2,{nodes[1 % len(nodes)]}:1"
        members = ",".join(r.sid for r in list(est.ha_resources.values())[:4])
        if not members:
            return
        if est.pve_major >= 9:
            est.ha_rules["prefer-first"] = HARule(
                "prefer-first", "node-affinity", members, nodes=preferred, strict=0
            )
            pair = list(est.ha_resources)[:2]
            if len(pair) == 2:
                est.ha_rules["keep-apart"] = HARule(
                    "keep-apart", "resource-affinity", ",".join(pair), affinity="negative"
                )
        else:
            est.ha_groups["prefer-first"] = HAGroup("prefer-first", preferred)
            for sid in members.split(","):
                est.ha_resources[sid].group = "prefer-first"

    def _backup_jobs(self) -> None:
        est = self.estate
        est.backup_jobs = {
            "backup-nightly": {
                "type": "vzdump",
                "schedule": "21:00",
                "all": "1",
                "storage": "pbs",
                "mode": "snapshot",
                "enabled": "1",
                "notes-template": "{{guestname}}",
                "comment": "nightly to PBS",
                "exclude": "9000,9001,9002",
            },
            "backup-weekly-usb": {
                "type": "vzdump",
                "schedule": "sat 02:00",
                "storage": "usb-backup",
                "node": self.plan.node_names[0],
                "vmid": ",".join(str(v) for v in sorted(est.guests)[:5]),
                "mode": "stop",
                "compress": "zstd",
                "enabled": "1",
            },
            "backup-dev-pool": {
                "type": "vzdump",
                "schedule": "mon..fri 03:00",
                "pool": "dev",
                "storage": "nfs-iso",
                "mode": "snapshot",
                "enabled": "0",
                "compress": "zstd",
            },
        }


def _stamp(epoch: int) -> str:
    """vzdump file timestamp ``YYYY_MM_DD-HH_MM_SS`` (UTC)."""
    return time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(epoch))
