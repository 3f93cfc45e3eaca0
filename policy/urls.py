from django.urls import path

from policy.views import policies, runs, violations

app_name = "policy"

urlpatterns = [
    path("", policies.policy_list_view, name="policies"),
    path("new/", policies.policy_create_view, name="policy-new"),
    path("export.yaml", policies.policy_export_view, name="export"),
    path("import/", policies.policy_import_view, name="import"),
    path("<int:pk>/", policies.policy_detail_view, name="policy"),
    path("<int:pk>/edit/", policies.policy_edit_view, name="policy-edit"),
    path("<int:pk>/versions/<int:version>/", policies.policy_version_view, name="version"),
    path("violations/", violations.violation_list_view, name="violations"),
    path("violations/<int:pk>/", violations.violation_detail_view, name="violation"),
    path("vms/<int:pk>/section/", violations.vm_section_view, name="vm-section"),
    path("remediations/", runs.remediation_list_view, name="remediations"),
    path("remediations/<int:pk>/", runs.remediation_detail_view, name="remediation"),
    path("remediations/<int:pk>/status/", runs.remediation_status_view, name="remediation-status"),
    path("quarantines/", runs.quarantine_list_view, name="quarantines"),
    path("exemptions/", runs.exemption_list_view, name="exemptions"),
]
