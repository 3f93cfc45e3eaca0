"""Declarations: QEMU VM lifecycle (power, migrate, remote migrate, clone, template,
snapshots)."""

from pvesim.spec.qemu import DISKS, NODE, VMID
from pvesim.spec.types import Method

METHODS = [
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/start",
        {
            "node": NODE,
            "vmid": VMID,
            "force-cpu": "?str",
            "machine": "?str pstr:qemu-machine",
            "migratedfrom": "?str fmt:pve-node",
            "migration_network": "?str fmt:CIDR",
            "migration_type": "?enum:secure|insecure",
            "nets-host-mtu": "?str re:net\\d+=\\d+(,net\\d+=\\d+)*",
            "skiplock": "?bool",
            "stateuri": "?str len:..128",
            "targetstorage": "?str fmt:storage-pair-list",
            "timeout": "?int 0..",
            "with-conntrack-state": "?bool =0",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/stop",
        {
            "node": NODE,
            "vmid": VMID,
            "keepActive": "?bool =0",
            "migratedfrom": "?str fmt:pve-node",
            "overrule-shutdown": "?bool =0",
            "skiplock": "?bool",
            "timeout": "?int 0..",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/shutdown",
        {
            "node": NODE,
            "vmid": VMID,
            "forceStop": "?bool =0",
            "keepActive": "?bool =0",
            "skiplock": "?bool",
            "timeout": "?int 0..",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/reboot",
        {
            "node": NODE,
            "vmid": VMID,
            "timeout": "?int 0..",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/suspend",
        {
            "node": NODE,
            "vmid": VMID,
            "skiplock": "?bool",
            "statestorage": "?str fmt:pve-storage-id req:todisk",
            "todisk": "?bool =0",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/resume",
        {
            "node": NODE,
            "vmid": VMID,
            "nocheck": "?bool",
            "skiplock": "?bool",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "target": "?str fmt:pve-node",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?int 0..",
            "force": "?bool",
            "migration_network": "?str fmt:CIDR",
            "migration_type": "?enum:secure|insecure",
            "online": "?bool",
            "target": NODE,
            "targetstorage": "?str fmt:storage-pair-list",
            "with-conntrack-state": "?bool =0",
            "with-local-disks": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/remote_migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?int 0..",
            "delete": "?bool =0",
            "online": "?bool",
            "target-bridge": "str fmt:bridge-pair-list",
            "target-endpoint": "str fmt:proxmox-remote",
            "target-storage": "str fmt:storage-pair-list",
            "target-vmid": "?int 100..999999999 fmt:pve-vmid",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/clone",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?int 0..",
            "description": "?str",
            "format": "?enum:raw|qcow2|vmdk",
            "full": "?bool",
            "name": "?str fmt:dns-name",
            "newid": VMID,
            "pool": "?str fmt:pve-poolid",
            "snapname": "?str len:..40 fmt:pve-configid",
            "storage": "?str fmt:pve-storage-id",
            "target": "?str fmt:pve-node",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/template",
        {
            "node": NODE,
            "vmid": VMID,
            "disk": f"?enum:{DISKS}",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/snapshot",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/snapshot",
        {
            "node": NODE,
            "vmid": VMID,
            "description": "?str",
            "snapname": "str len:..40 fmt:pve-configid",
            "vmstate": "?bool",
        },
    ),
    Method(
        "DELETE",
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
        {
            "node": NODE,
            "vmid": VMID,
            "force": "?bool",
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "description": "?str",
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
        {
            "node": NODE,
            "vmid": VMID,
            "snapname": "str len:..40 fmt:pve-configid",
            "start": "?bool =0",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/status/reset",
        {
            "node": NODE,
            "vmid": VMID,
            "skiplock": "?bool",
        },
    ),
]
