from django.apps import AppConfig
from django.db.models.signals import post_migrate

from governance.accounts.roles import Role


class AccountsConfig(AppConfig):
    name = "governance.accounts"
    label = "accounts"
    verbose_name = "Accounts and teams"

    # Model-wide rights each role holds on this app's models ("app_label.codename");
    # any app may declare the same attribute, and ``roles_sync`` applies them all.
    role_permissions = {
        Role.ADMIN: [
            "accounts.add_user",
            "accounts.change_user",
            "accounts.view_user",
            "accounts.add_team",
            "accounts.change_team",
            "accounts.delete_team",
            "accounts.view_team",
            "accounts.add_teammembership",
            "accounts.change_teammembership",
            "accounts.delete_teammembership",
            "accounts.view_teammembership",
            "auth.view_group",
        ],
        Role.AUDITOR: [
            "accounts.view_user",
            "accounts.view_team",
            "accounts.view_teammembership",
        ],
        Role.SECURITY_OFFICER: ["accounts.view_user", "accounts.view_team"],
        Role.MANAGER: ["accounts.view_user"],
        Role.END_USER: [],
    }

    def ready(self) -> None:
        from governance.accounts import signals
        from governance.accounts.role_sync import roles_sync_after_migrate

        signals.connect()
        # Permissions of models added later exist only after migrate; attach them then.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="steward_roles_sync")
