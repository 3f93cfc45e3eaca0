"""Declarations: LXC containers (list, create, config, power, migrate, clone, template, snapshots).

The config options shared by create and config update are declared once in ``OPTIONS``.
"""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"
MOUNTS = "|".join(["rootfs", *(f"mp{i}" for i in range(256))])
LOCKS = "backup|create|destroyed|disk|fstrim|migrate|mounted|rollback|snapshot|snapshot-delete"
OSTYPES = "debian|devuan|ubuntu|centos|fedora|opensuse|archlinux|alpine|gentoo|nixos|unmanaged"
_ENV_ITEM = r"\w+=[^\x00-\x08\x10-\x1F\x7F]*"
ENV = f"?str re:(?^:(?:{_ENV_ITEM})(?:\\0{_ENV_ITEM})*)"


OPTIONS = {
    "node": NODE,
    "vmid": VMID,
    "arch": "?enum:amd64|i386|arm64|armhf|riscv32|riscv64 =amd64",
    "cmode": "?enum:shell|console|tty =tty",
    "console": "?bool =1",
    "cores": "?int 1..8192",
    "cpulimit": "?num 0..8192 =0",
    "cpuunits": "?int 0..500000",
    "debug": "?bool =0",
    "description": "?str len:..8192",
    "dev[n]": "?str pstr:lxc-dev",
    "entrypoint": "?str =/sbin/init re:(?^:[^\\x00-\\x08\\x10-\\x1F\\x7F]+)",
    "env": ENV,
    "features": "?str pstr:lxc-features",
    "hookscript": "?str fmt:pve-volume-id",
    "hostname": "?str len:..255 fmt:dns-name",
    "lock": f"?enum:{LOCKS}",
    "memory": "?int 16.. =512",
    "mp[n]": "?str pstr:lxc-mp",
    "nameserver": "?str fmt:lxc-ip-with-ll-iface-list",
    "net[n]": "?str pstr:lxc-net",
    "onboot": "?bool =0",
    "ostype": f"?enum:{OSTYPES}",
    "protection": "?bool =0",
    "rootfs": "?str pstr:lxc-rootfs",
    "searchdomain": "?str fmt:dns-name-list",
    "startup": "?str fmt:pve-startup-order",
    "swap": "?int 0.. =512",
    "tags": "?str fmt:pve-tag-list",
    "template": "?bool =0",
    "timezone": "?str fmt:pve-ct-timezone",
    "tty": "?int 0..6 =2",
    "unprivileged": "?bool =0",
    "unused[n]": "?str pstr:lxc-unused",
}

METHODS = [
    Method(
        "GET",
        "/nodes/{node}/lxc",
        {
            "node": NODE,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc",
        {
            **OPTIONS,
            "bwlimit": "?num 0..",
            "force": "?bool",
            "ha-managed": "?bool =0",
            "ignore-unpack-errors": "?bool",
            "ostemplate": "str len:..255",
            "password": "?str len:5..",
            "pool": "?str fmt:pve-poolid",
            "restore": "?bool",
            "ssh-public-keys": "?str",
            "start": "?bool =0",
            "storage": "?str fmt:pve-storage-id =local",
            "unique": "?bool req:restore",
        },
    ),
    Method(
        "DELETE",
        "/nodes/{node}/lxc/{vmid}",
        {
            "node": NODE,
            "vmid": VMID,
            "destroy-unreferenced-disks": "?bool",
            "force": "?bool =0",
            "purge": "?bool =0",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "current": "?bool =0",
            "snapshot": "?str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/lxc/{vmid}/config",
        {
            **OPTIONS,
            "delete": "?str fmt:pve-configid-list",
            "digest": "?str len:..40",
            "revert": "?str fmt:pve-configid-list",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/pending",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/status/current",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/start",
        {
            "node": NODE,
            "vmid": VMID,
            "debug": "?bool =0",
            "skiplock": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/stop",
        {
            "node": NODE,
            "vmid": VMID,
            "overrule-shutdown": "?bool =0",
            "skiplock": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/shutdown",
        {
            "node": NODE,
            "vmid": VMID,
            "forceStop": "?bool =0",
            "timeout": "?int 0.. =60",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/reboot",
        {
            "node": NODE,
            "vmid": VMID,
            "timeout": "?int 0..",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/suspend",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/status/resume",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "target": "?str fmt:pve-node",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?num 0..",
            "online": "?bool",
            "restart": "?bool",
            "target": NODE,
            "target-storage": "?str fmt:storage-pair-list",
            "timeout": "?int =180",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/remote_migrate",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?num 0..",
            "delete": "?bool =0",
            "online": "?bool",
            "restart": "?bool",
            "target-bridge": "str fmt:bridge-pair-list",
            "target-endpoint": "str fmt:proxmox-remote",
            "target-storage": "str fmt:storage-pair-list",
            "target-vmid": "?int 100..999999999 fmt:pve-vmid",
            "timeout": "?int =180",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/clone",
        {
            "node": NODE,
            "vmid": VMID,
            "bwlimit": "?num 0..",
            "description": "?str",
            "full": "?bool",
            "hostname": "?str fmt:dns-name",
            "newid": VMID,
            "pool": "?str fmt:pve-poolid",
            "snapname": "?str len:..40 fmt:pve-configid",
            "storage": "?str fmt:pve-storage-id",
            "target": "?str fmt:pve-node",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/template",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/lxc/{vmid}/resize",
        {
            "node": NODE,
            "vmid": VMID,
            "digest": "?str len:..40",
            "disk": f"enum:{MOUNTS}",
            "size": "str re:\\+?\\d+(\\.\\d+)?[KMGT]?",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/snapshot",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/snapshot",
        {
            "node": NODE,
            "vmid": VMID,
            "description": "?str",
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "DELETE",
        "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
        {
            "node": NODE,
            "vmid": VMID,
            "force": "?bool",
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
        {
            "node": NODE,
            "vmid": VMID,
            "description": "?str",
            "snapname": "str len:..40 fmt:pve-configid",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
        {
            "node": NODE,
            "vmid": VMID,
            "snapname": "str len:..40 fmt:pve-configid",
            "start": "?bool =0",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/lxc/{vmid}/interfaces",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
]
