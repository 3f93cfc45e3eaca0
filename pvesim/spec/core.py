"""Declarations: version, cluster status and tasks, nodes list/status, node tasks, pools."""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"

METHODS = [
    Method("GET", "/version", {}),
    Method("GET", "/cluster/status", {}),
    Method("GET", "/cluster/tasks", {}),
    Method("GET", "/nodes", {}),
    Method("GET", "/nodes/{node}/status", {"node": NODE}),
    Method(
        "GET",
        "/nodes/{node}/tasks",
        {
            "node": NODE,
            "errors": "?bool =0",
            "limit": "?int 0.. =50",
            "since": "?int",
            "source": "?enum:archive|active|all =archive",
            "start": "?int 0.. =0",
            "statusfilter": "?str fmt:pve-task-status-type-list",
            "typefilter": "?str",
            "until": "?int",
            "userfilter": "?str",
            "vmid": f"?{VMID}",
        },
    ),
    Method("GET", "/nodes/{node}/tasks/{upid}", {"node": NODE, "upid": "str"}),
    Method("DELETE", "/nodes/{node}/tasks/{upid}", {"node": NODE, "upid": "str"}),
    Method("GET", "/nodes/{node}/tasks/{upid}/status", {"node": NODE, "upid": "str"}),
    Method(
        "GET",
        "/nodes/{node}/tasks/{upid}/log",
        {
            "node": NODE,
            "upid": "str",
            "download": "?bool",
            "limit": "?int 0.. =50",
            "start": "?int 0.. =0",
        },
    ),
    Method(
        "GET",
        "/pools",
        {"poolid": "?str fmt:pve-poolid", "type": "?enum:qemu|lxc|storage req:poolid"},
    ),
    Method("POST", "/pools", {"poolid": "str fmt:pve-poolid", "comment": "?str"}),
    Method(
        "PUT",
        "/pools",
        {
            "poolid": "str fmt:pve-poolid",
            "allow-move": "?bool =0",
            "comment": "?str",
            "delete": "?bool =0",
            "storage": "?str fmt:pve-storage-id-list",
            "vms": "?str fmt:pve-vmid-list",
        },
    ),
    Method("DELETE", "/pools", {"poolid": "str fmt:pve-poolid"}),
    Method(
        "GET", "/pools/{poolid}", {"poolid": "str fmt:pve-poolid", "type": "?enum:qemu|lxc|storage"}
    ),
    Method(
        "PUT",
        "/pools/{poolid}",
        {
            "poolid": "str fmt:pve-poolid",
            "allow-move": "?bool =0",
            "comment": "?str",
            "delete": "?bool =0",
            "storage": "?str fmt:pve-storage-id-list",
            "vms": "?str fmt:pve-vmid-list",
        },
    ),
    Method("DELETE", "/pools/{poolid}", {"poolid": "str fmt:pve-poolid"}),
]
