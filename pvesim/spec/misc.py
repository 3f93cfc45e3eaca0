"""Declarations: cluster resources, nextid, USB hardware, consoles and the guest agent."""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"

METHODS = [
    Method(
        "GET",
        "/cluster/resources",
        {
            "type": "?enum:vm|storage|node|sdn",
        },
    ),
    Method(
        "GET",
        "/cluster/nextid",
        {
            "vmid": "?int 100..999999999 fmt:pve-vmid",
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/hardware/usb",
        {
            "node": NODE,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/vncproxy",
        {
            "node": NODE,
            "vmid": VMID,
            "generate-password": "?bool =0",
            "websocket": "?bool",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/termproxy",
        {
            "node": NODE,
            "vmid": VMID,
            "serial": "?enum:serial0|serial1|serial2|serial3",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/vncproxy",
        {
            "node": NODE,
            "vmid": VMID,
            "height": "?int 16..2160",
            "websocket": "?bool",
            "width": "?int 16..4096",
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/lxc/{vmid}/termproxy",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/agent/get-osinfo",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "GET",
        "/nodes/{node}/qemu/{vmid}/agent/info",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
    Method(
        "POST",
        "/nodes/{node}/qemu/{vmid}/agent/ping",
        {
            "node": NODE,
            "vmid": VMID,
        },
    ),
]
