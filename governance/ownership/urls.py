from django.urls import path, re_path

from governance.ownership.views import actions, dashboards, inbox, rules, vms

app_name = "ownership"

urlpatterns = [
    path("", dashboards.dashboard_view, name="dashboard"),
    path("mine/", dashboards.mine_view, name="mine"),
    path("teams/", dashboards.team_index_view, name="teams"),
    path("teams/<slug:slug>/", dashboards.team_view, name="team"),
    re_path(r"^export\.(?P<fmt>csv|json)$", dashboards.export_view, name="export"),
    path("vms/", vms.vm_list_view, name="vms"),
    path("vms/assign/", vms.bulk_assign_view, name="assign-bulk"),
    path("vms/<int:pk>/claim/", actions.vm_claim_view, name="vm-claim"),
    path("vms/<int:pk>/offer/", actions.vm_transfer_offer_view, name="vm-offer"),
    path("vms/<int:pk>/extend/", actions.vm_lease_extension_view, name="vm-extend"),
    path("vms/<int:pk>/assign/", actions.vm_assign_view, name="vm-assign"),
    path("vms/<int:pk>/classify/", actions.vm_classify_view, name="vm-classify"),
    path("claims/<int:pk>/<slug:step>/", actions.claim_step_view, name="claim-step"),
    path("transfers/<int:pk>/<slug:step>/", actions.transfer_step_view, name="transfer-step"),
    path("inbox/", inbox.inbox_view, name="inbox"),
    path("claim/", inbox.claimable_view, name="claimable"),
    path("rules/", rules.rule_list_view, name="rules"),
    path("rules/new/", rules.rule_create_view, name="rule-create"),
    path("rules/<int:pk>/", rules.rule_edit_view, name="rule-edit"),
    path("rules/<int:pk>/toggle/", rules.rule_toggle_view, name="rule-toggle"),
]
