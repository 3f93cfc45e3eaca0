"""Declarations: HA resources, groups (PVE 8) and rules (PVE 9), HA status."""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"

METHODS = [
    Method(
        "GET",
        "/cluster/ha/resources",
        {
            "type": "?enum:ct|vm",
        },
    ),
    Method(
        "POST",
        "/cluster/ha/resources",
        {
            "comment": "?str len:..4096",
            "failback": "?bool =1",
            "group": "?str fmt:pve-configid",
            "max_relocate": "?int 0.. =1",
            "max_restart": "?int 0.. =1",
            "sid": "str fmt:pve-ha-resource-or-vm-id",
            "state": "?enum:started|stopped|enabled|disabled|ignored =started",
            "type": "?enum:ct|vm",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/resources/{sid}",
        {
            "sid": "str fmt:pve-ha-resource-or-vm-id",
        },
    ),
    Method(
        "PUT",
        "/cluster/ha/resources/{sid}",
        {
            "comment": "?str len:..4096",
            "delete": "?str len:..4096 fmt:pve-configid-list",
            "digest": "?str len:..64",
            "failback": "?bool =1",
            "group": "?str fmt:pve-configid",
            "max_relocate": "?int 0.. =1",
            "max_restart": "?int 0.. =1",
            "sid": "str fmt:pve-ha-resource-or-vm-id",
            "state": "?enum:started|stopped|enabled|disabled|ignored =started",
        },
    ),
    Method(
        "DELETE",
        "/cluster/ha/resources/{sid}",
        {
            "purge": "?bool =1",
            "sid": "str fmt:pve-ha-resource-or-vm-id",
        },
    ),
    Method(
        "POST",
        "/cluster/ha/resources/{sid}/migrate",
        {
            "node": NODE,
            "sid": "str fmt:pve-ha-resource-or-vm-id",
        },
    ),
    Method(
        "POST",
        "/cluster/ha/resources/{sid}/relocate",
        {
            "node": NODE,
            "sid": "str fmt:pve-ha-resource-or-vm-id",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/groups",
        {},
    ),
    Method(
        "POST",
        "/cluster/ha/groups",
        {
            "comment": "?str len:..4096",
            "group": "str fmt:pve-configid",
            "nodes": "str fmt:pve-ha-node-list",
            "nofailback": "?bool =0",
            "restricted": "?bool =0",
            "type": "?enum:group",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/groups/{group}",
        {
            "group": "str fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/cluster/ha/groups/{group}",
        {
            "comment": "?str len:..4096",
            "delete": "?str len:..4096 fmt:pve-configid-list",
            "digest": "?str len:..64",
            "group": "str fmt:pve-configid",
            "nodes": "?str fmt:pve-ha-node-list",
            "nofailback": "?bool =0",
            "restricted": "?bool =0",
        },
    ),
    Method(
        "DELETE",
        "/cluster/ha/groups/{group}",
        {
            "group": "str fmt:pve-configid",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/rules",
        {
            "resource": "?str",
            "type": "?enum:node-affinity|resource-affinity",
        },
    ),
    Method(
        "POST",
        "/cluster/ha/rules",
        {
            "affinity": "?enum:positive|negative",
            "comment": "?str len:..4096",
            "disable": "?bool",
            "nodes": "?str fmt:pve-ha-node-list",
            "resources": "str fmt:pve-ha-resource-id-list",
            "rule": "str fmt:pve-configid",
            "strict": "?bool =0",
            "type": "enum:node-affinity|resource-affinity",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/rules/{rule}",
        {
            "rule": "str fmt:pve-configid",
        },
    ),
    Method(
        "PUT",
        "/cluster/ha/rules/{rule}",
        {
            "affinity": "?enum:positive|negative",
            "comment": "?str len:..4096",
            "delete": "?str len:..4096 fmt:pve-configid-list",
            "digest": "?str len:..64",
            "disable": "?bool",
            "nodes": "?str fmt:pve-ha-node-list",
            "resources": "?str fmt:pve-ha-resource-id-list",
            "rule": "str fmt:pve-configid",
            "strict": "?bool =0",
            "type": "enum:node-affinity|resource-affinity",
        },
    ),
    Method(
        "DELETE",
        "/cluster/ha/rules/{rule}",
        {
            "rule": "str fmt:pve-configid",
        },
    ),
    Method(
        "GET",
        "/cluster/ha/status/current",
        {},
    ),
]
