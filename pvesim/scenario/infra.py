"""Infrastructure and cluster configuration of a generated estate: nodes with USB devices,
storages (incl. a USB-disk backup store), ISOs/templates/import sources, pools, firewall
groups, HA and backup jobs."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from pvesim.model import Estate
from pvesim.model.clusterconf import HAGroup, HAResource, HARule, Pool, SecurityGroup
from pvesim.model.infra import Node, Storage, UsbDevice, Volume

if TYPE_CHECKING:
    from pvesim.scenario import ClusterPlan

_GIB = 1024**3
#: OVF descriptors of the appliances on the import storage (``model/appliances.py``).
_APPLIANCES = {
    "legacy-erp.ova": {
        "name": "legacy-erp",
        "cores": 4,
        "memory": 6144,
        "ostype": "l26",
        "disks": [
            {"bus": "scsi0", "file": "legacy-erp-disk1.vmdk", "size": 32 * _GIB},
            {"bus": "scsi1", "file": "legacy-erp-disk2.vmdk", "size": 8 * _GIB},
        ],
        "nets": [{"key": "net0", "model": "vmxnet3"}],
    }
}


class InfraBuilder:
    """State shared by all build steps; one random stream so the output order is fixed."""

    def __init__(self, plan: ClusterPlan, *, now: float) -> None:
        self.plan = plan
        self.now = int(now)
        self.rng = random.Random(plan.seed)
        self.estate = Estate(name=plan.name, pve_major=plan.pve_major)
        self.vmid = 100
        self.shared_images = plan.index % 4 != 3  # most clusters run Ceph RBD, some only local

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
                est.storages["local"],
                first,
                Volume(f"local:import/{name}", "import", size, fmt, ovf=_APPLIANCES.get(name)),
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
