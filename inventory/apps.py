from django.apps import AppConfig

from governance.accounts.roles import Role

# Everything the sync mirrors is read-only for people; only the sync writes it.
_READ_ALL = [
    f"inventory.view_{model}"
    for model in (
        "cluster",
        "node",
        "storage",
        "storagenodestatus",
        "pool",
        "syncrun",
        "virtualmachine",
        "guestnic",
        "guestdisk",
        "guestdevice",
        "residency",
        "copy",
        "lineage",
        "rollback",
        "proxmoxtask",
        "backupjob",
        "haresource",
        "harule",
        "hagroup",
        "aclentry",
        "guestosinfo",
        "osrelease",
    )
]


class InventoryConfig(AppConfig):
    name = "inventory"
    label = "inventory"
    verbose_name = "Inventory"

    # Admins, security officers and auditors see the whole estate; managers and end
    # users see nothing until ownership exists (the ownership issue widens this with
    # object permissions). Only admins register clusters, classify storage and keep
    # the OS end-of-life table (in Django admin).
    role_permissions = {
        Role.ADMIN: [
            *_READ_ALL,
            "inventory.add_cluster",
            "inventory.change_cluster",
            "inventory.delete_cluster",
            "inventory.change_storage",
            "inventory.add_osrelease",
            "inventory.change_osrelease",
            "inventory.delete_osrelease",
        ],
        Role.SECURITY_OFFICER: list(_READ_ALL),
        Role.AUDITOR: list(_READ_ALL),
    }
