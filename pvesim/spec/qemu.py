"""Declarations: QEMU VM configuration (list, create, destroy, config, pending, resize).

The config options shared by create and config update are declared once in ``OPTIONS``;
power, migration, clone, template and snapshots are in :mod:`pvesim.spec.qemu_lifecycle`.
"""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"
DISKS = "|".join(
    [
        *(f"ide{i}" for i in range(4)),
        *(f"scsi{i}" for i in range(31)),
        *(f"virtio{i}" for i in range(16)),
        *(f"sata{i}" for i in range(6)),
        "efidisk0",
        "tpmstate0",
    ]
)
KEYBOARDS = "de|de-ch|da|en-gb|en-us|es|fi|fr|fr-be|fr-ca|fr-ch|hu|is|it|ja|lt|mk|nl|no|pl"
KEYBOARDS += "|pt|pt-br|sv|sl|tr"
LOCKS = "backup|clone|create|migrate|rollback|snapshot|snapshot-delete|suspending|suspended"


OSTYPE = "?enum:other|wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11|l24|l26|solaris =other"
SCSIHW = "?enum:lsi|lsi53c810|virtio-scsi-pci|virtio-scsi-single|megasas|pvscsi =lsi"
STARTDATE = "?str =now re:(now|\\d{4}-\\d{1,2}-\\d{1,2}(T\\d{1,2}:\\d{1,2}:\\d{1,2})?)"
VMGENID = "?str re:(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])"

OPTIONS = {
    "node": NODE,
    "vmid": VMID,
    "acpi": "?bool =1",
    "affinity": "?str fmt:pve-cpuset",
    "agent": "?str pstr:qemu-agent",
    "allow-ksm": "?bool =1",
    "amd-sev": "?str fmt:pve-qemu-sev-fmt",
    "arch": "?enum:x86_64|aarch64",
    "args": "?str",
    "audio0": "?str pstr:qemu-audio0",
    "autostart": "?bool =0",
    "balloon": "?int 0..",
    "bios": "?enum:seabios|ovmf =seabios",
    "boot": "?str fmt:pve-qm-boot",
    "bootdisk": "?str fmt:pve-qm-bootdisk re:(ide|sata|scsi|virtio)\\d+",
    "cdrom": "?str fmt:pve-qm-ide",
    "cicustom": "?str fmt:pve-qm-cicustom",
    "cipassword": "?str",
    "citype": "?enum:configdrive2|nocloud|opennebula",
    "ciupgrade": "?bool =1",
    "ciuser": "?str",
    "cores": "?int 1.. =1",
    "cpu": "?str fmt:pve-vm-cpu-conf",
    "cpulimit": "?num 0..128 =0",
    "cpuunits": "?int 1..262144",
    "description": "?str len:..8192",
    "efidisk0": "?str pstr:qemu-efidisk0",
    "freeze": "?bool",
    "hookscript": "?str fmt:pve-volume-id",
    "hostpci[n]": "?str fmt:pve-qm-hostpci",
    "hotplug": "?str fmt:pve-hotplug-features =network,disk,usb",
    "hugepages": "?enum:any|2|1024",
    "ide[n]": "?str pstr:qemu-ide",
    "intel-tdx": "?str fmt:pve-qemu-tdx-fmt",
    "ipconfig[n]": "?str fmt:pve-qm-ipconfig",
    "ivshmem": "?str pstr:qemu-ivshmem",
    "keephugepages": "?bool =0",
    "keyboard": f"?enum:{KEYBOARDS}",
    "kvm": "?bool =1",
    "localtime": "?bool",
    "lock": f"?enum:{LOCKS}",
    "machine": "?str pstr:qemu-machine",
    "memory": "?str pstr:qemu-memory",
    "migrate_downtime": "?num 0.. =0.1",
    "migrate_speed": "?int 0.. =0",
    "name": "?str fmt:dns-name",
    "nameserver": "?str fmt:address-list",
    "net[n]": "?str pstr:qemu-net",
    "numa": "?bool =0",
    "numa[n]": "?str pstr:qemu-numa",
    "onboot": "?bool =0",
    "ostype": OSTYPE,
    "parallel[n]": "?str re:/dev/parport\\d+|/dev/usb/lp\\d+",
    "protection": "?bool =0",
    "reboot": "?bool =1",
    "rng0": "?str fmt:pve-qm-rng",
    "sata[n]": "?str pstr:qemu-sata",
    "scsi[n]": "?str pstr:qemu-scsi",
    "scsihw": SCSIHW,
    "searchdomain": "?str",
    "serial[n]": "?str re:(/dev/.+|socket)",
    "shares": "?int 0..50000 =1000",
    "smbios1": "?str len:..512 fmt:pve-qm-smbios1",
    "smp": "?int 1.. =1",
    "sockets": "?int 1.. =1",
    "spice_enhancements": "?str pstr:qemu-spice_enhancements",
    "sshkeys": "?str fmt:urlencoded",
    "startdate": STARTDATE,
    "startup": "?str fmt:pve-startup-order",
    "tablet": "?bool =1",
    "tags": "?str fmt:pve-tag-list",
    "tdf": "?bool =0",
    "template": "?bool =0",
    "tpmstate0": "?str pstr:qemu-tpmstate0",
    "unused[n]": "?str pstr:qemu-unused",
    "usb[n]": "?str pstr:qemu-usb",
    "vcpus": "?int 1.. =0",
    "vga": "?str pstr:qemu-vga",
    "virtio[n]": "?str pstr:qemu-virtio",
    "virtiofs[n]": "?str pstr:qemu-virtiofs",
    "vmgenid": VMGENID,
    "vmstatestorage": "?str fmt:pve-storage-id",
    "watchdog": "?str fmt:pve-qm-watchdog",
}

METHODS = [
    Method(
        "GET",
        "/nodes/{node}/qemu",
        {
            "node": NODE,
            "full": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu",
        {
            **OPTIONS,
            "archive": "?str len:..255",
            "bwlimit": "?int 0..",
            "force": "?bool req:archive",
            "ha-managed": "?bool =0",
            "import-working-storage": "?str fmt:pve-storage-id",
            "live-restore": "?bool",
            "pool": "?str fmt:pve-poolid",
            "start": "?bool =0",
            "storage": "?str fmt:pve-storage-id",
            "unique": "?bool req:archive",
        },
    ),
    Method(
        "DELETE",
        "/nodes/{node}/qemu/{vmid}",
        {
            "node": NODE,
            "vmid": VMID,
            "destroy-unreferenced-disks": "?bool =0",
            "purge": "?bool",
            "skiplock": "?bool",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "current": "?bool =0",
            "snapshot": "?str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/config",
        {
            **OPTIONS,
            "delete": "?str fmt:pve-configid-list",
            "digest": "?str len:..40",
            "force": "?bool req:delete",
            "revert": "?str fmt:pve-configid-list",
            "skiplock": "?bool",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/pending",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/status/current",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/resize",
        {
            "node": NODE,
            "vmid": VMID,
            "digest": "?str len:..40",
            "disk": f"enum:{DISKS}",
            "size": "str re:\\+?\\d+(\\.\\d+)?[KMGT]?",
            "skiplock": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/config",
        {
            **OPTIONS,
            "background_delay": "?int 1..30",
            "delete": "?str fmt:pve-configid-list",
            "digest": "?str len:..40",
            "force": "?bool req:delete",
            "import-working-storage": "?str fmt:pve-storage-id",
            "revert": "?str fmt:pve-configid-list",
            "skiplock": "?bool",
        },
    ),
]
