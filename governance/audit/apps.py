from django.apps import AppConfig

from governance.accounts.roles import Role


class AuditConfig(AppConfig):
    name = "governance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    # Admins, auditors and security officers (who audit sensitive operations, DESIGN
    # section 1) read the trail; nobody writes it except through audit_record.
    role_permissions = {
        Role.ADMIN: ["audit.view_auditevent"],
        Role.AUDITOR: ["audit.view_auditevent"],
        Role.SECURITY_OFFICER: ["audit.view_auditevent"],
    }
