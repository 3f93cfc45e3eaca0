"""Config facts: every PVE value form the portal relies on, and no crash or invention on junk."""

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsing import (
    ParsedConfig,
    config_facts,
    linked_base_vmid,
    parse_config,
    parse_size,
    reaches_host,
    split_property,
    split_volume,
)
from inventory.sync.state import DeviceFacts as Device
from inventory.sync.state import DiskFacts as Disk
from inventory.sync.state import NicFacts as Nic

MAC = "BC:24:11:0A:1B:2C"
UUID = "0c5b5b9e-6a0c-4f3e-a1b2-3c4d5e6f7a8b"

QEMU = {
    "boot": "order=scsi0;ide2;net0",
    "net0": f"virtio={MAC.lower()},bridge=vmbr0,firewall=1",
    "net1": "model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr1",
    "net10": "e1000=BC:24:11:00:00:10,bridge=vmbr0",
    "scsi0": "local-lvm:vm-101-disk-0,iothread=1,size=32G",
    "scsi1": "file=ceph:base-9000-disk-0/vm-101-disk-1,size=1.5T",
    "virtio0": "/dev/disk/by-id/ata-SSD,size=100G",
    "ide2": "nfs-iso:iso/virtio-win-0.1.266.iso,media=cdrom,size=709M",
    "ide0": "none,media=cdrom",
    "sata0": "cdrom,media=cdrom",
    "efidisk0": "local-lvm:vm-101-disk-2,efitype=4m,pre-enrolled-keys=1,size=1M",
    "tpmstate0": "local-lvm:vm-101-disk-3,size=4M,version=v2.0",
    "unused0": "local-lvm:vm-101-disk-4",
    "usb0": "host=046d:c52b,usb3=1",
    "usb1": "spice",
    "usb2": "mapping=yubikey",
    "usb3": "host=1-2.3",
    "hostpci0": "0000:01:00.0;0000:01:00.1,pcie=1,x-vga=1",
    "hostpci1": "mapping=gpu",
    "serial0": "socket",
    "serial1": "/dev/ttyS0",
    "parallel0": "/dev/parport0",
    "vmgenid": UUID.upper(),
    "smbios1": f"uuid={UUID},manufacturer=UHJveG1veA==,base64=1",
    "ostype": "win11",
    "agent": "enabled=1,fstrim_cloned_disks=1",
    "rng0": "source=/dev/urandom",
    "meta": "creation-qemu=9.0.2,ctime=1717171717",
}


def test_qemu_config_gives_every_fact():
    facts = parse_config("qemu", QEMU)
    assert facts.nics == (
        Nic("net0", MAC, "virtio", "vmbr0"),
        Nic("net1", "BC:24:11:00:00:01", "e1000", "vmbr1"),
        Nic("net10", "BC:24:11:00:00:10", "e1000", "vmbr0"),
    )
    disks = {d.key: d for d in facts.disks}
    assert disks["scsi0"] == Disk("scsi0", "local-lvm", "local-lvm:vm-101-disk-0", 32 * 1024**3)
    assert linked_base_vmid(disks["scsi1"].volume) == 9000
    assert linked_base_vmid(disks["scsi0"].volume) is None
    assert disks["scsi1"].size == int(1.5 * 1024**4)
    assert disks["virtio0"] == Disk("virtio0", "", "/dev/disk/by-id/ata-SSD", 100 * 1024**3)
    assert disks["ide2"] == Disk(
        "ide2",
        "nfs-iso",
        "nfs-iso:iso/virtio-win-0.1.266.iso",
        709 * 1024**2,
        is_cdrom=True,
        media="nfs-iso:iso/virtio-win-0.1.266.iso",
    )
    assert (disks["ide0"].media, disks["ide0"].storage) == ("none", "")
    assert (disks["sata0"].media, disks["sata0"].is_cdrom) == ("cdrom", True)
    assert disks["efidisk0"].size == 1024**2
    assert disks["tpmstate0"].storage == "local-lvm"
    assert disks["unused0"].volume == "local-lvm:vm-101-disk-4"
    devices = {d.key: d for d in facts.devices}
    assert devices["usb0"] == Device("usb0", "usb", "host=046d:c52b,usb3=1")
    assert devices["hostpci0"].kind == "pci"
    assert devices["parallel0"] == Device("parallel0", "parallel", "/dev/parport0")
    assert devices["ide2"] == Device("ide2", "cdrom", "nfs-iso:iso/virtio-win-0.1.266.iso")
    assert devices["ide0"].value == "none"
    reaching = {key for key, device in devices.items() if reaches_host(device)}
    # spice, mappings, sockets, ISOs and empty drives do not reach host hardware
    assert reaching == {"usb0", "usb3", "hostpci0", "serial1", "parallel0", "sata0"}
    assert facts.vmgenid == UUID
    assert facts.smbios_uuid == UUID
    assert facts.ostype == "win11"
    assert facts.agent_enabled
    assert facts.has_rng
    assert facts.created == 1717171717


def test_config_facts_carry_raw_values_and_storage_names():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    facts = config_facts(vmid=101, kind="qemu", digest="d" * 40, values=QEMU, read_at=now)
    assert (facts.vmid, facts.digest, facts.read_at, facts.values) == (101, "d" * 40, now, QEMU)
    assert facts.storage_names == ("ceph", "local-lvm")  # the ISO is media, not data
    assert facts.nics[0].mac == MAC
    assert facts.smbios_uuid == UUID


def test_lxc_config_gives_macs_rootfs_mount_points_and_devices():
    facts = parse_config(
        "lxc",
        {
            "hostname": "ct1",
            "net0": f"name=eth0,bridge=vmbr0,firewall=1,hwaddr={MAC},ip=dhcp,type=veth",
            "rootfs": "local-zfs:subvol-200-disk-0,size=8G",
            "mp0": "local-zfs:subvol-200-disk-1,mp=/data,backup=1,size=32G",
            "mp1": "/srv/share,mp=/share",
            "unused0": "local-zfs:subvol-200-disk-2",
            "dev0": "/dev/ttyUSB0,mode=0660",
            "dev1": "path=/dev/dri/renderD128",
            "ostype": "debian",
            "agent": "1",  # not an LXC key: ignored
            "smbios1": f"uuid={UUID}",  # idem
        },
    )
    assert facts.macs == (MAC,)
    assert [d.key for d in facts.disks] == ["rootfs", "mp0", "mp1", "unused0"]
    assert facts.disks[0] == Disk("rootfs", "local-zfs", "local-zfs:subvol-200-disk-0", 8 * 1024**3)
    assert facts.disks[2].storage == ""
    assert [(d.key, d.kind) for d in facts.devices] == [("dev0", "usb"), ("dev1", "pci")]
    assert facts.ostype == "debian"
    assert not facts.agent_enabled
    assert facts.smbios_uuid == ""


@pytest.mark.parametrize(
    ("agent", "enabled"),
    [("1", True), ("0", False), ("enabled=0,type=isa", False), ("enabled=1", True), ("x", False)],
)
def test_agent_flag(agent, enabled):
    assert parse_config("qemu", {"agent": agent}).agent_enabled is enabled


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("net0", "virtio,bridge=vmbr0"),  # no MAC yet
        ("net0", "virtio=BC:24:11,bridge=vmbr0"),
        ("net0", "virtio=BC:24:11:00:00:01,e1000=BC:24:11:00:00:02"),
        ("net32", f"virtio={MAC}"),  # beyond the schema's net31
        ("scsi31", "local:vm-1-disk-0"),
        ("ide2", "local:iso/x.iso,media=floppy"),
        ("scsi0", "none"),  # only CD-ROM drives may be empty
        ("scsi0", "not a volume"),
        ("usb0", "host=zzzz:c52b"),
        ("usb0", "host=1-2,host=3-4"),
        ("hostpci0", "host=gpu"),
        ("serial0", "ttyS0"),
        ("parallel0", "/dev/parport0,x=1"),
        ("vmgenid", "1"),
        ("smbios1", "uuid=not-a-uuid"),
        ("ostype", "Windows 11"),
    ],
)
def test_malformed_values_give_no_fact(key, value):
    assert parse_config("qemu", {key: value}) == ParsedConfig()


def test_helpers():
    assert split_property("virtio=AA,bridge=vmbr0", "model") == {
        "virtio": "AA",
        "bridge": "vmbr0",
    }
    assert split_property("a=1,a=2") == {}
    assert parse_size("4096") == 4096
    assert parse_size("12Q") == 0
    assert split_volume("pbs:backup/vm/100/2026-01-31T01:00:00Z") == (
        "pbs",
        "backup/vm/100/2026-01-31T01:00:00Z",
    )
    assert split_volume("/dev/sdb") == ("", "")


_junk_text = st.text(
    alphabet=st.sampled_from(list("abcdefinorstuvx0123456789:=,;/.-_ AFBC\n")), max_size=60
)
_keys = st.sampled_from(
    [
        "net0",
        "net31",
        "scsi0",
        "ide2",
        "sata5",
        "virtio15",
        "efidisk0",
        "tpmstate0",
        "unused3",
        "usb0",
        "hostpci2",
        "serial1",
        "parallel0",
        "rootfs",
        "mp4",
        "dev0",
        "vmgenid",
        "smbios1",
        "agent",
        "rng0",
        "meta",
        "ostype",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["qemu", "lxc", "junk"]),
    config=st.dictionaries(st.one_of(_keys, st.text(max_size=12)), _junk_text, max_size=12),
)
def test_never_raises_and_every_fact_is_well_formed(kind, config):
    facts = parse_config(kind, config)
    for nic in facts.nics:
        assert re.fullmatch(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}", nic.mac)
    for disk in facts.disks:
        assert disk.size >= 0
        assert disk.storage == "" or disk.volume.startswith(disk.storage + ":")
        assert disk.is_cdrom or disk.media == ""
    for device in facts.devices:
        assert device.kind in {"usb", "pci", "serial", "parallel", "cdrom"}
        assert device.key in config
    for value in (facts.vmgenid, facts.smbios_uuid):
        assert value == "" or re.fullmatch(r"[0-9a-f-]{36}", value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_in_every_known_key_is_survivable(text):
    for kind in ("qemu", "lxc"):
        parse_config(kind, dict.fromkeys(QEMU, text) | {"rootfs": text, "mp0": text})
