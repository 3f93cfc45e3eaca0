"""Declarations: cluster security groups and per-guest firewall options/rules.

A rule has the same fields everywhere (``RULE``); creating one requires ``type`` and
``action``, updating one adds ``delete``/``moveto``. The guest subtree is identical for
QEMU and LXC.
"""

from pvesim.spec.types import Method

NODE = "str fmt:pve-node"
VMID = "int 100..999999999 fmt:pve-vmid"
NAME = r"len:2..18 re:[A-Za-z][A-Za-z0-9\-\_]+"
GROUP = f"str {NAME}"
LOG = "?enum:emerg|alert|crit|err|warning|notice|info|debug|nolog"
POS = "?int 0.."
DIGEST = "?str len:..64"

RULE = {
    "comment": "?str",
    "dest": "?str len:..512 fmt:pve-fw-addr-spec",
    "digest": DIGEST,
    "dport": "?str fmt:pve-fw-dport-spec",
    "enable": "?int 0..",
    "icmp-type": "?str fmt:pve-fw-icmp-type-spec",
    "iface": "?str len:2..20 fmt:pve-iface",
    "log": LOG,
    "macro": "?str len:..128",
    "pos": POS,
    "proto": "?str fmt:pve-fw-protocol-spec",
    "source": "?str len:..512 fmt:pve-fw-addr-spec",
    "sport": "?str fmt:pve-fw-sport-spec",
}
ACTION = r"len:2..20 re:[A-Za-z][A-Za-z0-9\-\_]+"
NEW_RULE = {**RULE, "action": f"str {ACTION}", "type": "enum:in|out|forward|group"}
RULE_UPDATE = {
    **RULE,
    "action": f"?str {ACTION}",
    "type": "?enum:in|out|forward|group",
    "delete": "?str fmt:pve-configid-list",
    "moveto": POS,
}
OPTIONS = {
    "delete": "?str fmt:pve-configid-list",
    "dhcp": "?bool =0",
    "digest": DIGEST,
    "enable": "?bool =0",
    "ipfilter": "?bool",
    "log_level_in": LOG,
    "log_level_out": LOG,
    "macfilter": "?bool =1",
    "ndp": "?bool =1",
    "policy_in": "?enum:ACCEPT|REJECT|DROP",
    "policy_out": "?enum:ACCEPT|REJECT|DROP",
    "radv": "?bool",
}


def _guest_methods(kind: str) -> list[Method]:
    base = f"/nodes/{{node}}/{kind}/{{vmid}}/firewall"
    guest = {"node": NODE, "vmid": VMID}
    return [
        Method("GET", base + "/options", guest),
        Method("PUT", base + "/options", {**guest, **OPTIONS}),
        Method("GET", base + "/rules", guest),
        Method("POST", base + "/rules", {**guest, **NEW_RULE}),
        Method("GET", base + "/rules/{pos}", {**guest, "pos": POS}),
        Method("PUT", base + "/rules/{pos}", {**guest, **RULE_UPDATE}),
        Method("DELETE", base + "/rules/{pos}", {**guest, "digest": DIGEST, "pos": POS}),
    ]


GROUPS = "/cluster/firewall/groups"
METHODS = [
    Method("GET", GROUPS, {}),
    Method(
        "POST", GROUPS, {"comment": "?str", "digest": DIGEST, "group": GROUP, "rename": f"?{GROUP}"}
    ),
    Method("GET", GROUPS + "/{group}", {"group": GROUP}),
    Method("POST", GROUPS + "/{group}", {**NEW_RULE, "group": GROUP}),
    Method("DELETE", GROUPS + "/{group}", {"group": GROUP}),
    Method("GET", GROUPS + "/{group}/{pos}", {"group": GROUP, "pos": POS}),
    Method("PUT", GROUPS + "/{group}/{pos}", {**RULE_UPDATE, "group": GROUP}),
    Method("DELETE", GROUPS + "/{group}/{pos}", {"digest": DIGEST, "group": GROUP, "pos": POS}),
    *_guest_methods("qemu"),
    *_guest_methods("lxc"),
]
