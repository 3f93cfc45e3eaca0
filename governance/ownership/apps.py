from django.apps import AppConfig

from governance.accounts.roles import Role

_MODELS = ("ownership", "ownershiprule", "claim", "transfer", "leasewarning", "sprawlsample")
_READ_ALL = [f"ownership.view_{model}" for model in _MODELS]


class OwnershipConfig(AppConfig):
    name = "governance.ownership"
    label = "ownership"
    verbose_name = "Ownership"

    # Admins assign and write rules; security officers and auditors read everything.
    # Managers and end users hold no model-wide right: the visibility rules registered in
    # ready() show them their own and their teams' VMs, claims and transfers.
    role_permissions = {
        Role.ADMIN: [
            *_READ_ALL,
            "ownership.add_ownership",
            "ownership.add_ownershiprule",
            "ownership.change_ownershiprule",
            "ownership.delete_ownershiprule",
            "ownership.change_claim",
            "ownership.change_transfer",
            "ownership.set_classification",
        ],
        Role.SECURITY_OFFICER: [*_READ_ALL, "ownership.set_classification"],
        Role.AUDITOR: list(_READ_ALL),
    }

    def ready(self) -> None:
        from governance.ownership import signals, visibility

        visibility.register()
        signals.connect()
