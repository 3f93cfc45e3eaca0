"""PVE's named string formats (``fmt:NAME`` in a spec string) and its privilege names.

Each format raises ValueError with PVE's own message; an ``X-list`` format checks every
item of a PVE list as ``X``. Nothing here knows the parameter DSL, so handlers can split
lists and check privileges without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar

PRIVILEGES: tuple[str, ...] = (
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Group.Allocate",
    "Mapping.Audit",
    "Mapping.Modify",
    "Mapping.Use",
    "Permissions.Modify",
    "Pool.Allocate",
    "Pool.Audit",
    "Realm.Allocate",
    "Realm.AllocateUser",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.AccessNetwork",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
    "Sys.Syslog",
    "User.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
)

# PVE 9.0 split VM.Monitor into the VM.GuestAgent.* privileges and added VM.Replicate
# (an 8.4 root@pam holds neither), and each release refuses the other's names ("invalid
# privilege 'VM.Monitor'" on 9, "... 'VM.GuestAgent.Audit'" on 8). The request being
# validated runs under its cluster's major release.
_PVE9_ONLY = frozenset(
    p for p in PRIVILEGES if p.startswith("VM.GuestAgent.") or p == "VM.Replicate"
)
_PVE8_ONLY = frozenset({"VM.Monitor"})
PVE_MAJOR: ContextVar[int] = ContextVar("pvesim_pve_major", default=9)


def privileges(major: int) -> frozenset[str]:
    """The privilege names PVE ``major`` knows."""
    if major >= 9:
        return frozenset(PRIVILEGES)
    return (frozenset(PRIVILEGES) - _PVE9_ONLY) | _PVE8_ONLY


FormatCheck = Callable[[str], None]
FORMATS: dict[str, FormatCheck] = {}


def register_format(name: str) -> Callable[[FormatCheck], FormatCheck]:
    """Register a validator for a named PVE format; it raises ValueError(PVE message)."""

    def decorate(check: FormatCheck) -> FormatCheck:
        FORMATS[name] = check
        return check

    return decorate


def _regex_format(name: str, pattern: str, message: str) -> None:
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise ValueError(message.format(value=value))

    FORMATS[name] = check


NODE_RE = r"(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
REALM_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"
USERID_RE = rf"[^\s:/]+@{REALM_RE}"
TOKEN_NAME_RE = r"[A-Za-z][A-Za-z0-9\.\-_]+"  # noqa: S105 - a name pattern

_regex_format("pve-node", NODE_RE, "value does not look like a valid node name")
_regex_format("pve-vmid", r"[1-9][0-9]{2,8}", "value does not look like a valid VM ID")
_regex_format("pve-configid", r"[a-z][a-z0-9_\-]+", "invalid configuration ID '{value}'")
_regex_format(
    "pve-storage-id",
    r"[a-z][a-z0-9\-_.]*[a-z0-9]",
    "storage ID '{value}' contains illegal characters",
)
_regex_format("pve-userid", USERID_RE, "value '{value}' does not look like a valid user name")
_regex_format("pve-tokenid", rf"{USERID_RE}!{TOKEN_NAME_RE}", "invalid token ID '{value}'")
_regex_format("pve-realm", REALM_RE, "value '{value}' does not look like a valid realm")
_regex_format(
    "pve-poolid",
    r"[A-Za-z0-9_][A-Za-z0-9_\-]*(/[A-Za-z0-9_][A-Za-z0-9_\-]*){0,2}",
    "invalid pool ID '{value}'",
)
_regex_format("pve-roleid", r"[A-Za-z0-9.\-_]+", "role name '{value}' contains invalid characters")
_regex_format(
    "pve-groupid", r"[A-Za-z0-9.\-_]+", "group name '{value}' contains invalid characters"
)
_regex_format("pve-tag", r"[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*", "invalid tag '{value}'")
_regex_format(
    "email-opt",
    r"[\w+\-~]+(\.[\w+\-~]+)*@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*",
    "value does not look like a valid email address",
)
_regex_format(
    "mac-addr",
    r"[a-fA-F0-9]{2}(:[a-fA-F0-9]{2}){5}",
    "value does not look like a valid MAC address",
)


@register_format("pve-priv")
def _check_priv(value: str) -> None:
    if value not in privileges(PVE_MAJOR.get()):
        raise ValueError(f"invalid privilege '{value}'")


LIST_SPLIT = re.compile(r"[,;\s\0]+")


def split_list(value: str) -> list[str]:
    """PVE's split_list: comma, semicolon, NUL or whitespace separated, empties dropped."""
    return [item for item in LIST_SPLIT.split(value) if item]


def check_format(name: str, value: str) -> None:
    """Validate ``value`` against a named format; ``X-list`` checks every item as ``X``."""
    check = FORMATS.get(name)
    if check is not None:
        check(value)
        return
    if name.endswith("-list"):
        item_check = FORMATS.get(name[: -len("-list")])
        if item_check is not None:
            for item in split_list(value):
                item_check(item)
    # Unknown formats are accepted: the conformance test still holds the *name* against the
    # official schema, and the handler owning the parameter interprets the value.
