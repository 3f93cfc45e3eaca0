from django.urls import path

from governance.approvals.views import chains, detail, quotas, requests

app_name = "approvals"

urlpatterns = [
    path("", requests.mine_view, name="mine"),
    path("inbox/", requests.inbox_view, name="inbox"),
    path("new/<slug:kind>/", requests.request_new_view, name="new"),
    path("<int:pk>/", requests.request_detail_view, name="request"),
    path("<int:pk>/live/", requests.request_timeline_view, name="request-live"),
    path("<int:pk>/approve/", detail.decide_view, {"decision": "approve"}, name="approve"),
    path("<int:pk>/reject/", detail.decide_view, {"decision": "reject"}, name="reject"),
    path("<int:pk>/cancel/", detail.cancel_view, name="cancel"),
    path("<int:pk>/retry/", detail.retry_view, name="retry"),
    path("chains/", chains.chain_list_view, name="chains"),
    path("chains/new/", chains.chain_edit_view, name="chain-new"),
    path("chains/<int:pk>/", chains.chain_edit_view, name="chain"),
    path("quotas/", quotas.quota_list_view, name="quotas"),
    path("quotas/<slug:slug>/", quotas.quota_edit_view, name="quota"),
]
