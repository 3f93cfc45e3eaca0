from django.apps import AppConfig

from governance.accounts.roles import Role

_MODELS = (
    "request",
    "requeststep",
    "requestevent",
    "approvalchain",
    "approvalstep",
    "approval",
    "execution",
    "executionstep",
    "accessgrant",
    "teamquota",
)
_READ_ALL = [f"approvals.view_{model}" for model in _MODELS]


class ApprovalsConfig(AppConfig):
    name = "governance.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    # Admins edit chains and act on executions (retry, cancel) and grants (revoke);
    # security officers and auditors read everything. Requesters and approvers hold no
    # model-wide right: they see the requests they made or may decide
    # (``governance.approvals.lists.request_visible``).
    role_permissions = {
        Role.ADMIN: [
            *_READ_ALL,
            "approvals.add_approvalchain",
            "approvals.change_approvalchain",
            "approvals.delete_approvalchain",
            "approvals.add_approvalstep",
            "approvals.change_approvalstep",
            "approvals.delete_approvalstep",
            "approvals.change_execution",
            "approvals.change_accessgrant",
            "approvals.add_teamquota",
            "approvals.change_teamquota",
        ],
        Role.SECURITY_OFFICER: list(_READ_ALL),
        Role.AUDITOR: list(_READ_ALL),
    }

    def ready(self) -> None:
        # Registers the per-kind pre-submission checks in ``VALIDATORS``.
        from governance.approvals.services import backup_delete, prechecks  # noqa: F401
        from governance.approvals.services.quota import quota_intake
        from governance.ownership.services_workflows import TEAM_INTAKE_CHECKS

        if quota_intake not in TEAM_INTAKE_CHECKS:
            TEAM_INTAKE_CHECKS.append(quota_intake)
