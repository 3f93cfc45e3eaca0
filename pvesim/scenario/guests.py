"""Guests of a generated estate: templates and linked clones, VMs and containers with
realistic configs, passthrough devices, sensitive guests, runtime state, snapshots, backups."""

from __future__ import annotations

import random
import time

from pvesim.model import Estate
from pvesim.model.guest import Guest, GuestFirewall
from pvesim.model.infra import Storage, Volume
from pvesim.model.snapshots import snapshot_create
from pvesim.model.volumes import image_volname, state_volname
from pvesim.scenario.catalog import (
    LXC_OSES,
    PCI_DEVICES,
    QEMU_OS_WEIGHTS,
    QEMU_OSES,
    ROLES,
    SENSITIVE_NAMES,
    TEAMS,
    OsProfile,
    agent_osinfo,
)
from pvesim.scenario.infra import InfraBuilder

_GIB = 1024**3


class Builder(InfraBuilder):
    """Builds one estate, infrastructure first, then guests, then HA and jobs."""

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
        guest.os_release = agent_osinfo(profile)
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


def _stamp(epoch: int) -> str:
    """vzdump file timestamp ``YYYY_MM_DD-HH_MM_SS`` (UTC)."""
    return time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(epoch))
