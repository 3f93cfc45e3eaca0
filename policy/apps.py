from django.apps import AppConfig

from governance.accounts.roles import Role

_MODELS = (
    "policy",
    "policyversion",
    "exemption",
    "violation",
    "remediation",
    "quarantine",
    "patchconfirmation",
    "rightsassignment",
)
_READ_ALL = [f"policy.view_{model}" for model in _MODELS]
_CHANGE_POLICIES = [
    "policy.add_policy",
    "policy.change_policy",
    "policy.add_exemption",
    "policy.change_exemption",
    "policy.add_quarantine",
    "policy.change_quarantine",
    "policy.change_violation",
    "policy.add_remediation",
    "policy.change_remediation",
]


class PolicyConfig(AppConfig):
    name = "policy"
    label = "policy"
    verbose_name = "Policy"

    # Security officers and admins write policies (and quarantine, exempt, remediate);
    # auditors read everything. Managers and end users hold no model-wide right: the
    # visibility rules registered in ready() show them the violations, remediations,
    # quarantines and exemptions of the VMs they can see.
    role_permissions = {
        Role.ADMIN: [*_READ_ALL, *_CHANGE_POLICIES],
        Role.SECURITY_OFFICER: [*_READ_ALL, *_CHANGE_POLICIES],
        Role.AUDITOR: list(_READ_ALL),
    }

    def ready(self) -> None:
        from policy import live, rights_follow, signals, visibility

        visibility.register()
        signals.connect()
        live.connect()
        rights_follow.connect()
