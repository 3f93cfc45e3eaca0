from django.apps import AppConfig

from governance.accounts.roles import Role


class AuditConfig(AppConfig):
    name = "governance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    # Reading the trail is for admins and auditors (see governance.accounts.role_sync).
    role_permissions = {
        Role.ADMIN: ["audit.view_auditevent"],
        Role.AUDITOR: ["audit.view_auditevent"],
    }
