"""How Steward's people map onto Proxmox users and the least-privilege role they get.

Shared by the ``unbacked_acl`` rule (which entries Steward backs) and ``rights_sync``
(which entries it writes). Mapping: a Steward user ``alice`` is the Proxmox user
``alice@<realm>``; the realm is a parameter of the ``unbacked_acl`` policy (default
``pve``; use the LDAP/OpenID realm the cluster authenticates people against).
"""

from __future__ import annotations

STEWARD_ROLE = "StewardUser"
DEFAULT_REALM = "pve"

# What the role must never hold: these operations go through Steward's requests.
FORBIDDEN_PRIVILEGES = frozenset(
    {
        "VM.Migrate",
        "VM.Clone",
        "VM.Backup",
        "VM.Snapshot.Rollback",
        "VM.Config.CDROM",
        "VM.Config.HWType",
        # PVE 8 only: the QEMU monitor (hot-plugging a host USB device or new media there
        # bypasses every rule above) and guest-agent commands, exec included.
        "VM.Monitor",
    }
)

# Enough to see, use and power-manage one's guests; nothing that copies or moves them.
STEWARD_ROLE_PRIVILEGES = (
    "VM.Audit",
    "VM.Console",
    "VM.PowerMgmt",
    "VM.Config.Options",
    "VM.Snapshot",
)


def pve_userid(username: str, realm: str = DEFAULT_REALM) -> str:
    """The Proxmox user id of a Steward user (``alice`` -> ``alice@pve``)."""
    return f"{username}@{realm}"


def vm_acl_path(vmid: int) -> str:
    return f"/vms/{vmid}"
