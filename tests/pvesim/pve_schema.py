"""The official PVE API schema (../shared/proxmox/pve-api-schema.json) for conformance tests.

Loads the schema, validates answers against a method's ``returns`` the way PVE's JSON schema
reads (booleans are 0/1 ints, ``optional`` marks optional properties, extra properties are
allowed unless ``additionalProperties`` is 0) and builds valid sample parameter values.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pvesim.spec.formats import privileges

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT.parent / "shared/proxmox/pve-api-schema.json"


@cache
def schema_index() -> dict[tuple[str, str], dict[str, Any]]:
    """``(method, path) -> info`` for all 649 methods; fails loudly if the file is missing."""
    if not SCHEMA_PATH.exists():
        raise AssertionError(f"official PVE schema missing at {SCHEMA_PATH}")
    index: dict[tuple[str, str], dict[str, Any]] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            for method, info in node.get("info", {}).items():
                index[(method, node["path"])] = info
            walk(node.get("children", []))

    walk(json.loads(SCHEMA_PATH.read_text()))
    # Observed PVE beats the schema here: Perl serialises nextid as a string ("100"),
    # NOTES.md sections 2 and 14.10.
    nextid = index.get(("GET", "/cluster/nextid"))
    if nextid is not None:
        index[("GET", "/cluster/nextid")] = {**nextid, "returns": {"type": "string"}}
    # The schema's enum for import-metadata's source holds only "esxi", which is what the
    # ESXi importer answers (pve-storage src/PVE/Storage/ESXiPlugin.pm, get_create_args).
    # The OVA/OVF importer answers `source => $volname` ("import/legacy-erp.ova"; pve-storage
    # src/PVE/Storage/DirPlugin.pm, get_import_metadata). PVE's own GUI imports OVAs from
    # that very answer, so the enum is not enforced on it: the relaxation follows real PVE.
    metadata = index.get(("GET", "/nodes/{node}/storage/{storage}/import-metadata"))
    if metadata is not None:
        returns = metadata["returns"]
        source = {**returns["properties"]["source"]}
        source.pop("enum", None)
        returns = {**returns, "properties": {**returns["properties"], "source": source}}
        index[("GET", "/nodes/{node}/storage/{storage}/import-metadata")] = {
            **metadata,
            "returns": returns,
        }
    return index


def perl_to_python(pattern: str) -> str:
    return pattern.replace("(?^", "(?")


def number(value: Any) -> float | None:
    """Schema bounds are sometimes strings (``"minimum": "0"``)."""
    return None if value is None else float(value)


_ROLE_READ = ("GET", "/access/roles/{roleid}")


def returns_of_release(key: tuple[str, str], major: int) -> dict[str, Any]:
    """The returns schema an answer of PVE ``major`` is held to.

    The schema is PVE 9.1's. Its one release-bound answer is a role read, whose properties
    are the release's privilege names (VM.Monitor on 8, VM.GuestAgent.* on 9): on an older
    release those properties are the release's own, still with no others allowed.
    """
    returns = schema_index()[key].get("returns", {})
    if key != _ROLE_READ or major >= 9:
        return returns
    flag = next(iter(returns["properties"].values()))
    return {**returns, "properties": dict.fromkeys(sorted(privileges(major)), flag)}


def check_returns(schema: dict[str, Any], value: Any, where: str = "data") -> list[str]:
    """Every way ``value`` violates ``schema`` (empty when it conforms)."""
    if not schema:
        return []
    kind = schema.get("type")
    if value is None:
        return [] if kind in (None, "null") or schema.get("optional") else [f"{where}: null"]
    problems: list[str] = []
    if kind == "null":
        return [f"{where}: expected null, got {value!r}"]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected string, got {value!r}"]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} not in {schema['enum']}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected integer, got {value!r}"]
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{where}: expected number, got {value!r}"]
    elif kind == "boolean":
        if isinstance(value, bool) or value not in (0, 1):
            return [f"{where}: expected 0/1 boolean, got {value!r}"]
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected array, got {type(value).__name__}"]
        for index, item in enumerate(value[:200]):
            problems += check_returns(schema.get("items", {}), item, f"{where}[{index}]")
    elif kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {type(value).__name__}"]
        properties = schema.get("properties", {})
        for name, sub in properties.items():
            if name in value:
                problems += check_returns(sub, value[name], f"{where}.{name}")
            elif not sub.get("optional"):
                problems.append(f"{where}: missing {name}")
        extra = schema.get("additionalProperties")
        if extra == 0:
            problems += [f"{where}: unexpected {k}" for k in value if k not in properties]
        elif isinstance(extra, dict):
            for name, item in value.items():
                if name not in properties:
                    problems += check_returns(extra, item, f"{where}.{name}")
    return problems


FORMAT_SAMPLES = {
    "pve-node": "node1",
    "pve-vmid": "100",
    "pve-storage-id": "local",
    "pve-configid": "net0",
    "pve-configid-list": "net0,ide2",
    "pve-userid": "root@pam",
    "pve-userid-list": "root@pam",
    "pve-groupid": "admins",
    "pve-groupid-list": "admins",
    "pve-roleid": "PVEAuditor",
    "pve-roleid-list": "PVEAuditor",
    "pve-tokenid-list": "root@pam!steward",
    "pve-poolid": "prod",
    "pve-realm": "pve",
    "pve-priv-list": "VM.Audit,Sys.Audit",
    "pve-vmid-list": "100,101",
    "pve-storage-id-list": "local",
    "pve-node-list": "node1,node2",
    "pve-tag-list": "web;prod",
    "pve-task-status-type-list": "ok,error",
    "pve-calendar-event": "sat 02:00",
    "pve-ha-resource-or-vm-id": "vm:100",
    "pve-ha-resource-id-list": "vm:100",
    "pve-ha-node-list": "node1:2,node2",
    "pve-volume-id": "local:iso/debian.iso",
    "pve-storage-content": "images",
    "pve-storage-content-list": "images,iso",
    "pve-iface": "eth0",
    "email-opt": "admin@example.com",
    "email-or-username-list": "admin@example.com",
    "mac-addr": "BC:24:11:00:00:01",
    "ip": "10.0.0.1",
    "ipv4": "10.0.0.1",
    "CIDR": "10.0.0.0/24",
    "IPorCIDR": "10.0.0.1",
    "IPorCIDRorAlias": "10.0.0.1",
    "address": "10.0.0.1",
    "dns-name": "host.example.com",
    "pve-fw-addr-spec": "10.0.0.1",
    "pve-fw-dport-spec": "22",
    "pve-fw-sport-spec": "1024",
    "pve-fw-protocol-spec": "tcp",
    "pve-fw-icmp-type-spec": "echo-request",
    "pve-storage-path": "/srv/data",
    "pve-startup-order": "order=1",
    "pve-tfa-config": "type=oath",
    "urlencoded": "abc",
    "proxmox-remote": "host=10.0.0.2,apitoken=PVEAPIToken=root@pam!mig=abc",
    "storage-pair-list": "local-lvm",
    "bridge-pair-list": "vmbr0",
}
_PATTERN_CANDIDATES = ("abc", "a1", "test-1", "100", "vm-100-disk-0", "01:00", "node1", "x")


def sample_value(schema: dict[str, Any]) -> str | None:
    """A valid form value for a parameter schema, or None when we cannot build one."""
    kind = schema.get("type", "string")
    if "enum" in schema:
        return str(schema["enum"][0])
    if kind == "boolean":
        return "1"
    if kind in ("integer", "number"):
        low, high = number(schema.get("minimum")), number(schema.get("maximum"))
        value = 1 if low is None else low
        if high is not None and value > high:
            value = high
        return str(int(value)) if float(value).is_integer() else str(value)
    if kind == "array":
        return "a"
    fmt = schema.get("format")
    if isinstance(fmt, dict):
        return sample_property_string(fmt)
    if isinstance(fmt, str):
        return FORMAT_SAMPLES.get(fmt)
    if "pattern" in schema:
        pattern = re.compile(perl_to_python(schema["pattern"]))
        return next((c for c in _PATTERN_CANDIDATES if pattern.fullmatch(c)), None)
    length = max(schema.get("minLength", 1), 1)
    if schema.get("maxLength") is not None and schema["maxLength"] < length:
        return None
    return "a" * max(length, min(4, schema.get("maxLength", 4)))


def sample_property_string(fmt: dict[str, Any]) -> str | None:
    parts = []
    for key, sub in fmt.items():
        if not isinstance(sub, dict) or sub.get("optional") or "alias" in sub:
            continue
        value = sample_value(sub)
        if value is None:
            return None
        parts.append(value if sub.get("default_key") else f"{key}={value}")
    if not parts:
        for key, sub in fmt.items():
            if isinstance(sub, dict) and "alias" not in sub:
                value = sample_value(sub)
                if value is not None:
                    return value if sub.get("default_key") else f"{key}={value}"
        return None
    return ",".join(parts)
