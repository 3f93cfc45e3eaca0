"""Evidence of a violation as people read it: labelled lines in a stable order.

A rule stores what it saw as JSON (``Finding.evidence``); the pages show the keys they
know first, with a label and the config line set in code type, then any other key as
it is, so a new rule's evidence shows up without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Known evidence keys -> (label, shown as code). Order is display order.
_KNOWN: dict[str, tuple[str, bool]] = {
    "line": ("Config line", True),
    "config_line": ("Config line", True),
    "key": ("Config key", True),
    "device": ("Device", True),
    "value": ("Value", True),
    "node": ("Node", False),
    "allowed": ("Allowed nodes", False),
    "allowed_nodes": ("Allowed nodes", False),
    "target": ("Would move to", False),
    "running": ("Running", False),
    "online": ("Running", False),
    "storage": ("Storage", False),
    "storage_class": ("Storage class", False),
    "volid": ("Volume", True),
    "volume": ("Volume", True),
    "copy_node": ("Copy on node", False),
    "snapshot": ("Snapshot", False),
    "vmstate": ("RAM state", False),
    "created_at": ("Created", False),
    "oldest": ("Oldest", False),
    "limit": ("Limit", False),
    "clones": ("Clones", False),
    "backups": ("Backups", False),
    "templates": ("Templates", False),
    "template": ("Template", False),
    "off_since": ("Off since", False),
    "first_seen": ("First seen", False),
    "lease_end": ("Lease ended", False),
    "source": ("Detected through", False),
    "detected_at": ("Detected", False),
    "rollbacks": ("Rollbacks", False),
    "task_upid": ("Proxmox task", True),
    "started_at": ("Started", False),
    "reasons": ("Reasons", False),
    "others": ("Shared with", False),
    "job_id": ("Backup job", True),
    "acl_path": ("ACL path", True),
    "path": ("ACL path", True),
    "ugid": ("User or group", True),
    "roleid": ("Role", True),
    "ha_sid": ("HA resource", True),
    "ha_group": ("HA group", True),
    "pve_version": ("Proxmox VE", False),
    "digest": ("Config digest", True),
}


@dataclass(frozen=True)
class EvidenceItem:
    label: str
    value: str
    code: bool


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items())
    return "" if value is None else str(value)


def evidence_items(evidence: dict[str, Any] | None) -> list[EvidenceItem]:
    """Known keys first in a fixed order, then the rest sorted; empty values skipped."""
    evidence = evidence or {}
    items: list[EvidenceItem] = []
    seen_labels: set[str] = set()
    for key, (label, code) in _KNOWN.items():
        if key in evidence and _text(evidence[key]) and label not in seen_labels:
            items.append(EvidenceItem(label, _text(evidence[key]), code))
            seen_labels.add(label)
    for key in sorted(set(evidence) - set(_KNOWN)):
        if text := _text(evidence[key]):
            items.append(EvidenceItem(key.replace("_", " ").capitalize(), text, False))
    return items
