"""Declarations: storage config, per-node status and content.

``OPTIONS`` holds the storage options shared by create and update.
"""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"

STORAGE_TYPES = (
    "enum:btrfs|cephfs|cifs|dir|esxi|iscsi|iscsidirect|lvm|lvmthin|nfs|pbs|rbd|zfs|zfspool"
)

OPTIONS = {
    "blocksize": "?str",
    "bwlimit": "?str pstr:storage-bwlimit",
    "comstar_hg": "?str",
    "comstar_tg": "?str",
    "content": "?str fmt:pve-storage-content-list",
    "content-dirs": "?str fmt:pve-dir-override-list",
    "create-base-path": "?bool =yes",
    "create-subdirs": "?bool =yes",
    "data-pool": "?str",
    "disable": "?bool",
    "domain": "?str len:..256",
    "encryption-key": "?str",
    "fingerprint": "?str re:([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}",
    "format": "?enum:raw|qcow2|subvol|vmdk",
    "fs-name": "?str fmt:pve-configid",
    "fuse": "?bool",
    "is_mountpoint": "?str =no",
    "keyring": "?str",
    "krbd": "?bool =0",
    "lio_tpg": "?str",
    "master-pubkey": "?str",
    "max-protected-backups": "?int -1..",
    "mkdir": "?bool =yes",
    "monhost": "?str fmt:pve-storage-portal-dns-list",
    "mountpoint": "?str fmt:pve-storage-path",
    "namespace": "?str",
    "nocow": "?bool =0",
    "nodes": "?str fmt:pve-node-list",
    "nowritecache": "?bool",
    "options": "?str fmt:pve-storage-options",
    "password": "?str len:..256",
    "pool": "?str",
    "port": "?int 1..65535",
    "preallocation": "?enum:off|metadata|falloc|full =metadata",
    "prune-backups": "?str fmt:prune-backups",
    "saferemove": "?bool",
    "saferemove-stepsize": "?int enum:1|2|4|8|16|32 =32",
    "saferemove_throughput": "?str",
    "server": "?str fmt:pve-storage-server",
    "shared": "?bool",
    "skip-cert-verification": "?bool =false",
    "smbversion": "?enum:default|2.0|2.1|3|3.0|3.11 =default",
    "snapshot-as-volume-chain": "?bool =0",
    "sparse": "?bool",
    "storage": "str fmt:pve-storage-id",
    "subdir": "?str fmt:pve-storage-path",
    "tagged_only": "?bool",
    "username": "?str",
    "zfs-base-path": "?str fmt:pve-storage-path",
}
CREATE_ONLY = {
    "authsupported": "?str",
    "base": "?str fmt:pve-volume-id",
    "datastore": "?str",
    "export": "?str fmt:pve-storage-path",
    "iscsiprovider": "?str",
    "path": "?str fmt:pve-storage-path",
    "portal": "?str fmt:pve-storage-portal-dns",
    "share": "?str",
    "target": "?str",
    "thinpool": "?str fmt:pve-storage-vgname",
    "vgname": "?str fmt:pve-storage-vgname",
}

METHODS = [
    Method("GET", "/storage", {"type": "?" + STORAGE_TYPES}),
    Method("POST", "/storage", {**OPTIONS, **CREATE_ONLY, "type": STORAGE_TYPES}),
    Method("GET", "/storage/{storage}", {"storage": "str fmt:pve-storage-id"}),
    Method(
        "PUT",
        "/storage/{storage}",
        {**OPTIONS, "delete": "?str len:..4096 fmt:pve-configid-list", "digest": "?str len:..64"},
    ),
    Method("DELETE", "/storage/{storage}", {"storage": "str fmt:pve-storage-id"}),
    Method(
        "GET",
        "/nodes/{node}/storage",
        {
            "node": NODE,
            "content": "?str fmt:pve-storage-content-list",
            "enabled": "?bool =0",
            "format": "?bool =0",
            "storage": "?str fmt:pve-storage-id",
            "target": "?str fmt:pve-node",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/storage/{storage}/status",
        {"node": NODE, "storage": "str fmt:pve-storage-id"},
    ),
    Method(
        "GET",
        "/nodes/{node}/storage/{storage}/content",
        {
            "node": NODE,
            "vmid": "?int 100..999999999 fmt:pve-vmid",
            "content": "?str fmt:pve-storage-content",
            "storage": "str fmt:pve-storage-id",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/storage/{storage}/import-metadata",
        {"node": NODE, "storage": "str fmt:pve-storage-id", "volume": "str"},
    ),
    Method(
        "GET",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        {"node": NODE, "storage": "?str fmt:pve-storage-id", "volume": "str"},
    ),
    Method(
        "PUT",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        {
            "node": NODE,
            "notes": "?str",
            "protected": "?bool",
            "storage": "?str fmt:pve-storage-id",
            "volume": "str",
        },
    ),
    Method(
        "DELETE",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        {
            "node": NODE,
            "delay": "?int 1..30",
            "storage": "?str fmt:pve-storage-id",
            "volume": "str",
        },
    ),
]
