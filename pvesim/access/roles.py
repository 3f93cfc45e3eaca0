"""Built-in roles per PVE release (PVE::AccessControl::create_roles); special and read-only.

create_roles derives the roles from the release's privilege groups, so the roles follow the
privileges: PVE 9 replaced VM.Monitor by VM.GuestAgent.* and added VM.Replicate.
"""

from __future__ import annotations

from pvesim.spec.formats import PRIVILEGES, privileges

# Privileges PVEAdmin lacks: the "root" group of every category plus Permissions.Modify.
_ROOT_ONLY = frozenset(
    {
        "Permissions.Modify",
        "Sys.Modify",
        "Sys.PowerMgmt",
        "Sys.Incoming",
        "Sys.AccessNetwork",
        "Realm.Allocate",
        "Mapping.Modify",
    }
)

_VM_CONFIG = ("CDROM", "CPU", "Cloudinit", "Disk", "HWType", "Memory", "Network", "Options")
_AGENT = ("Audit", "FileRead", "FileSystemMgmt", "FileWrite")

BUILTIN_ROLES: dict[str, frozenset[str]] = {  # PVE 9.1
    "Administrator": frozenset(PRIVILEGES),
    "NoAccess": frozenset(),
    "PVEAdmin": frozenset(PRIVILEGES) - _ROOT_ONLY,
    "PVEAuditor": frozenset(
        {
            "Datastore.Audit",
            "Mapping.Audit",
            "Pool.Audit",
            "SDN.Audit",
            "Sys.Audit",
            "VM.Audit",
            "VM.GuestAgent.Audit",
        }
    ),
    "PVEVMAdmin": frozenset(
        {
            "VM.Allocate",
            "VM.Audit",
            "VM.Backup",
            "VM.Clone",
            *(f"VM.Config.{c}" for c in _VM_CONFIG),
            "VM.Console",
            *(f"VM.GuestAgent.{a}" for a in (*_AGENT, "Unrestricted")),
            "VM.Migrate",
            "VM.PowerMgmt",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        }
    ),
    "PVEVMUser": frozenset(
        {
            "VM.Audit",
            "VM.Backup",
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            *(f"VM.GuestAgent.{a}" for a in _AGENT),
            "VM.PowerMgmt",
        }
    ),
    "PVETemplateUser": frozenset({"VM.Audit", "VM.Clone"}),
    "PVEDatastoreAdmin": frozenset(
        {
            "Datastore.Allocate",
            "Datastore.AllocateSpace",
            "Datastore.AllocateTemplate",
            "Datastore.Audit",
        }
    ),
    "PVEDatastoreUser": frozenset({"Datastore.AllocateSpace", "Datastore.Audit"}),
    "PVEPoolAdmin": frozenset({"Pool.Allocate", "Pool.Audit"}),
    "PVEPoolUser": frozenset({"Pool.Audit"}),
    "PVESysAdmin": frozenset({"Sys.Audit", "Sys.Console", "Sys.Syslog"}),
    "PVEUserAdmin": frozenset({"Group.Allocate", "Realm.AllocateUser", "User.Modify"}),
    "PVESDNAdmin": frozenset({"SDN.Allocate", "SDN.Audit", "SDN.Use"}),
    "PVESDNUser": frozenset({"SDN.Audit", "SDN.Use"}),
    "PVEMappingAdmin": frozenset({"Mapping.Audit", "Mapping.Modify", "Mapping.Use"}),
    "PVEMappingUser": frozenset({"Mapping.Audit", "Mapping.Use"}),
}

# On PVE 8 VM.Monitor sits in the VM "admin" group, so PVEVMAdmin and PVEAdmin hold it and
# PVEVMUser does not; Administrator is every privilege of the release.
_PVE8_MONITOR_ROLES = ("Administrator", "PVEAdmin", "PVEVMAdmin")
_PVE8_ROLES: dict[str, frozenset[str]] = {
    roleid: (privs & privileges(8)) | ({"VM.Monitor"} if roleid in _PVE8_MONITOR_ROLES else set())
    for roleid, privs in BUILTIN_ROLES.items()
}


def builtin_roles(major: int) -> dict[str, frozenset[str]]:
    """The built-in roles of PVE ``major``; the role names are the same on 8 and 9."""
    return BUILTIN_ROLES if major >= 9 else _PVE8_ROLES
